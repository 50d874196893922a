"""Processes a scenario runs and watches: `journeyhub worker`, connectors, the sandbox CRM.

Each runs as a user would run it, from the `journeyhub` command line in its own process,
with its output in the benchmark's log folder and a SIGTERM to stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from streams.broker import free_port
from streams.settings import EMBEDDED_SESSION_TIMEOUT
from streams.supervisor import journeyhub_command
from tests.bench.cluster import Cluster

STOP_GRACE = 20.0
READY_TIMEOUT = 120.0
_EVENTS_IN = re.compile(r"^journeyhub_worker_events_in_total\{[^}]*\} (\S+)$", re.MULTILINE)


class BenchProcess:
    """A journeyhub command running in the background, its output appended to a log file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                journeyhub_command(*args),
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def check_alive(self) -> None:
        """Raise with the end of its log if the process has exited."""
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            msg = f"{self.log_path.name} exited with {self.process.returncode}:\n{tail}"
            raise RuntimeError(msg)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_GRACE` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cluster_env(cluster: Cluster, data_dir: Path) -> dict[str, str]:
    """Environment for a journeyhub process of a scenario: its Kafka and its own data dir.

    Tables live in memory, as in the tests, unless ``JOURNEYHUB_STATE`` asks for RocksDB.
    """
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
        "JOURNEYHUB_DATA_DIR": str(data_dir),
        "JOURNEYHUB_STATE": os.environ.get("JOURNEYHUB_STATE", "memory"),
    }
    if cluster.embedded:
        env["KAFKA_SESSION_TIMEOUT_MS"] = str(round(EMBEDDED_SESSION_TIMEOUT * 1000))
    return env


class WorkerProcess(BenchProcess):
    """A `journeyhub worker` on a free web port, read through its /metrics."""

    def __init__(
        self,
        cluster: Cluster,
        data_dir: Path,
        log_path: Path,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **cluster_env(cluster, data_dir),
            "JOURNEYHUB_WEB_PORT": str(self.port),
            **(settings or {}),
        }
        super().__init__(["worker"], env, log_path)

    @property
    def url(self) -> str:
        """Base URL of the worker's HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        """True once /healthz answers ok."""
        return http_get(self.url + "/healthz") == {"status": "ok"}

    def progress(self) -> tuple[int, str]:
        """Events read so far, and every sample of /metrics as text.

        The text changes whenever any agent of the worker did something, so an unchanged
        text says the worker is idle, whichever domains it runs. Both are empty while the
        web server is not up.
        """
        text = http_get(self.url + "/metrics")
        if not isinstance(text, str):
            return 0, ""
        read = round(sum(float(value) for value in _EVENTS_IN.findall(text)))
        samples = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
        return read, samples


@contextlib.contextmanager
def running_workers(
    cluster: Cluster, count: int, log_dir: Path, settings: Mapping[str, str] | None = None
) -> Iterator[list[WorkerProcess]]:
    """Start ``count`` workers at once (one consumer group); stop them all on exit.

    ``settings`` are environment variables of every worker, beside those of the cluster.
    """
    workers: list[WorkerProcess] = []
    try:
        for index in range(count):
            name = f"worker-{cluster.run_id}-{index}"
            log_path = log_dir / f"{name}.log"
            workers.append(WorkerProcess(cluster, log_dir / name, log_path, settings))
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def wait_healthy(workers: list[WorkerProcess], timeout: float = READY_TIMEOUT) -> None:
    """Wait until every worker answers /healthz.

    Raises:
        RuntimeError: A worker exited or did not become healthy in time.
    """
    deadline = time.monotonic() + timeout
    while not all(worker.healthy() for worker in workers):
        for worker in workers:
            worker.check_alive()
        if time.monotonic() > deadline:
            msg = f"workers not healthy within {timeout:g} s; see {workers[0].log_path.parent}"
            raise RuntimeError(msg)
        time.sleep(0.3)


def http_get(url: str) -> Any:
    """A JSON or text answer from one of our processes, None when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
            if "json" in response.headers.get("Content-Type", ""):
                return json.loads(body)
            return body.decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None


class Profiler:
    """A py-spy flame graph of one process, recorded between :meth:`start` and :meth:`stop`."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._spy: subprocess.Popen[bytes] | None = None

    def start(self, process: BenchProcess) -> None:
        """Attach to the process (once); without py-spy installed, note it in the log."""
        if self._spy is not None:
            return
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.output.parent.mkdir(parents=True, exist_ok=True)
        command = [binary, "record", "--nonblocking", "--rate", "100", "--output", str(self.output)]
        with self.output.with_suffix(".log").open("ab") as log:
            self._spy = subprocess.Popen(
                [*command, "--pid", str(process.process.pid)], stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        """Stop recording; py-spy writes the flame graph as it exits."""
        if self._spy is not None and self._spy.poll() is None:
            self._spy.send_signal(signal.SIGINT)
            try:
                self._spy.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._spy.kill()
                self._spy.wait()
