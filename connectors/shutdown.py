"""Waiting for the signals that end a foreground process (SIGINT from Ctrl-C, SIGTERM).

Shared by the entry points of the connectors and the sandbox CRM, so each shuts down the same
way: stop taking work, finish what is in flight, clean up.
"""

from __future__ import annotations

import asyncio
import signal


async def wait_for_shutdown_signal() -> None:
    """Return once the process receives SIGINT or SIGTERM.

    The handlers are installed for the duration of the wait and removed afterwards.
    """
    loop = asyncio.get_running_loop()
    received = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, received.set)
    try:
        await received.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
