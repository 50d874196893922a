"""The foreground entry points the command line starts: they serve until SIGTERM, then exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from subprocess import DEVNULL

import pytest

from connectors.crm import PROFILES_TOPIC
from streams.broker import free_port
from tests.connectors.conftest import Harness, http_get_json, wait_until
from tests.connectors.records import profile


async def answers(url: str) -> bool:
    try:
        await http_get_json(url)
    except OSError:
        return False
    return True


async def terminate(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 20)


async def test_the_sandbox_crm_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    code = (
        "from pathlib import Path; from connectors.sandbox_crm import run_sandbox_crm; "
        f"run_sandbox_crm(port={port}, data_dir=Path({str(tmp_path)!r}))"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    try:
        await wait_until(lambda: answers(f"http://127.0.0.1:{port}/stats"), 20, "the sandbox")
    finally:
        exit_code = await terminate(process)

    assert exit_code == 0
    assert (tmp_path / "sandbox-crm.sqlite3").is_file()


@pytest.mark.slow
async def test_journeyhub_connect_crm_delivers_until_sigterm(
    harness: Harness, test_env: dict[str, str]
) -> None:
    crm = await harness.sandbox()
    customer = harness.id("c0")
    await harness.produce(PROFILES_TOPIC, [(customer, profile(customer))])
    env = {**os.environ, **test_env, "CRM_URL": crm.url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams.cli", "connect", "crm", env=env, stdout=DEVNULL
    )
    try:

        async def delivered() -> bool:
            return customer in await crm.contacts(harness.prefix)

        await wait_until(delivered, 60, "the contact from `journeyhub connect crm`")
    finally:
        exit_code = await terminate(process)

    assert exit_code == 0
