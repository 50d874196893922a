"""A sink connector's process runs its runner on uvloop's event loop (connectors.runtime)."""

from __future__ import annotations

import asyncio
from typing import cast

import uvloop

from connectors.runtime import SinkRunner, run_sink_process


class LoopProbe:
    """Stands in for a sink runner: notes the loop it runs on and ends at once."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped = False

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()

    def stop(self) -> None:
        self.stopped = True


def test_a_sink_process_runs_its_runner_on_uvloop_until_the_runner_ends() -> None:
    probe = LoopProbe()

    run_sink_process(cast(SinkRunner, probe))

    assert isinstance(probe.loop, uvloop.Loop)
    assert not probe.stopped  # it ended by itself, not by a signal
