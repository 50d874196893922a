"""A leaner consume path under Faust: fetched records reach the streams sooner and cheaper.

Stock Faust hands each fetched record to the streams inside its own ``wait_first`` race
against a rebalance, four asyncio tasks per record, which caps a worker at a few thousand
records a second; here a whole fetched batch runs that race once. Fetching, with short
waits, is the embedded broker's transport's (:mod:`streams.embedded_transport`).

The worker does not use it yet: only the benchmark does (`make bench`), because a crash
drill run with it lost events; it is enabled once that drill passes with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.types import TP, Message

from streams.embedded_transport import EmbeddedConsumer, EmbeddedTransport

YIELD_EVERY = 100
"""Records handed over before the loop lets other tasks run, as Faust does."""
STREAM_BUFFER = 32_768
"""Records an agent's stream may hold; Faust's 4,096 pauses fetching after every big fetch."""


class LeanConsumer(EmbeddedConsumer):
    """The embedded broker's consumer, handing a fetched batch over to the streams in one task.

    Everything else is Faust's: fetching, flow control, offsets, gaps, acks and commits. A
    rebalance that stops the flow cancels the rest of the batch, as it cancels the record
    in flight in stock Faust; the fetcher then drops what it had prefetched.
    """

    async def _drain_messages(self, fetcher: Any) -> None:
        """Fetch batches and deliver each to the streams until the consumer stops."""
        try:
            while not (self.should_stop or fetcher.should_stop):
                self.diag.set_flag(CONSUMER_FETCHING)
                batch = [pair async for pair in self.getmany(timeout=1.0)]
                await self.sleep(0)
                if batch and not self.should_stop:
                    await self.wait_first(self._deliver(batch), self.suspend_flow.wait())
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, batch: Sequence[tuple[TP, Message]]) -> None:
        """Hand records to the streams in order, skipping any already read (after a seek)."""
        callback = self.callback
        read_offsets = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        for index, (tp, message) in enumerate(batch, start=1):
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            offset = message.offset
            read = read_offsets[tp]
            if read is not None and offset < read:
                continue
            if read and offset - read > 1 and acks_enabled_for(message.topic):
                await self._add_gap(tp, read + 1, offset)
            await callback(message)
            read_offsets[tp] = offset


class LeanTransport(EmbeddedTransport):
    """The embedded broker's transport with :class:`LeanConsumer`."""

    Consumer = LeanConsumer


def use_lean_consume_path(app: faust.App) -> None:
    """Make the app consume through :class:`LeanConsumer` into larger stream buffers.

    The producer keeps Faust's linger. Call it right after creating the app, before any
    topic or agent is declared.
    """
    app.conf.stream_buffer_maxsize = STREAM_BUFFER
    app.transport = LeanTransport(app.conf.broker_consumer, app)
