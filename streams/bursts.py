"""A stream handled in bursts: each event applied at once, their outputs flushed together.

An agent that coalesces its outputs (the profile agent emits a changed profile once per batch,
however many events changed it) must acknowledge an event only after the outputs it caused
are sent, or a crash in between would lose them. Faust's ``take()`` gives that, but it closes a
batch only when it is full or when a fixed window ends: at a low load every event waited for
the window (up to 200 ms of end-to-end latency). Here a batch also ends when the stream has
nothing more waiting: under load batches grow and outputs coalesce, and a lone event is
flushed at once.

A rebalance may clear the stream's buffer while a burst is open; the burst is then flushed
with the next event. Its events stay unacknowledged meanwhile, so whoever owns their partitions
next reads them again and emits what they changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

import faust
from faust.types import EventT


async def _nothing_waiting(stream: faust.StreamT) -> bool:
    """True when the stream's buffer is empty, also after every ready task had its turn.

    The consumer hands a fetched batch to the streams in slices, letting other tasks run in
    between: one turn of the loop lets it add the next slice before a burst is called over.
    """
    queue = cast(faust.ChannelT, stream.channel).queue
    if not queue.empty():
        return False
    await asyncio.sleep(0)
    return queue.empty()


async def run_in_bursts(
    stream: faust.StreamT,
    apply: Callable[[EventT], Awaitable[None]],
    flush: Callable[[], Awaitable[None]],
    *,
    most: int,
    longest: float,
) -> None:
    """Apply each event of ``stream``; flush and acknowledge them together at a burst's end.

    Events are applied inside the stream's iteration, where tables accept writes. A burst
    ends when nothing more is waiting, when it holds ``most`` events, or when its first
    event waited ``longest`` seconds; then ``flush`` runs and only after it the burst's
    events are acknowledged.

    Args:
        stream: The agent's stream.
        apply: Handles one event.
        flush: Sends what the burst's events caused.
        most: Largest burst, in events.
        longest: Longest wait of an event for its flush, in seconds, under a steady load.
    """
    manual = cast(faust.Stream, stream).noack()  # acked below, after the flush
    loop = asyncio.get_running_loop()
    burst: list[EventT] = []
    opened = 0.0
    async for event in manual.events():
        await apply(event)
        if not burst:
            opened = loop.time()
        burst.append(event)
        full = len(burst) >= most or loop.time() - opened >= longest
        if full or await _nothing_waiting(manual):
            await flush()
            for done in burst:
                await manual.ack(done)
            burst.clear()
