"""The worker process runs on uvloop's event loop (streams.worker)."""

import os
import subprocess
import sys

# Runs the worker's entry point in a process of its own, against a broker that is not there:
# it fails at the broker check, after choosing its event loop and before starting any.
PROBE = """
import asyncio
from streams.errors import BrokerError
from streams.settings import Settings
from streams.worker import run_worker
try:
    run_worker(Settings.from_env())
except BrokerError:
    loop = asyncio.new_event_loop()
    print(type(loop).__module__, type(loop).__name__)
"""


def test_the_worker_process_runs_on_uvloop(test_env: dict[str, str]) -> None:
    env = {k: v for k, v in test_env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["JOURNEYHUB_BROKER_PORT"] = "1"
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.split() == ["uvloop", "Loop"], probe.stderr[-2000:]
