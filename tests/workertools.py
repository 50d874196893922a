"""A real `journeyhub worker` process for integration tests, and a tiny HTTP client."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

WORKER_READY_TIMEOUT = 120.0


@contextlib.contextmanager
def running_worker(env: dict[str, str], log_name: str = "worker.log") -> Iterator[str]:
    """Start a worker, wait until /healthz is ok, yield its base URL, stop it with SIGTERM."""
    log_path = Path(env["JOURNEYHUB_DATA_DIR"]) / log_name
    log_path.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{env['JOURNEYHUB_WEB_PORT']}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: http_get(base + "/healthz")[0] == 200,
            WORKER_READY_TIMEOUT,
            lambda: f"worker not healthy; log:\n{log_path.read_text()[-3000:]}",
            process,
        )
        yield base
    finally:
        stop_process(process)


def stop_process(
    process: subprocess.Popen[bytes], grace: float = 20.0, how: signal.Signals = signal.SIGTERM
) -> None:
    """Send ``how`` to a running process; SIGKILL it when it has not ended within ``grace`` s."""
    if process.poll() is None:
        process.send_signal(how)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    explain: Callable[[], str] = lambda: "condition not met",
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}: {explain()}")
        time.sleep(0.3)
    raise AssertionError(explain())


def http_get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
            status = response.status
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        body, status, content_type = error.read(), error.code, error.headers.get("Content-Type", "")
    except OSError:
        return 0, None
    if "json" in content_type:
        return status, json.loads(body)
    return status, body.decode("utf-8", "replace")
