"""A producer whose flush before a commit does not return while table writes are still queued.

A table write is queued in Faust's producer buffer (``__setitem__`` cannot await the send), and
a task hands the queued records to aiokafka one after another. Before the consumer commits
offsets it flushes the producer, so that the changelog holds every write of the events the
commit covers. Faust's buffer flush gives up when no record left the queue for 0.1 s (while
aiokafka waits for metadata or room in its batches, or a busy loop starves the task) and
counts a record as gone once it is taken off the queue, before it reached aiokafka: the commit
could then cover events whose table writes were still on their way, and a crash just after it
would lose those writes for good. Here the flush waits until every record queued before it
began has been handed to aiokafka, whose own flush then waits for the broker to have them.

Faust's threaded producer (``producer_threaded``) queues elsewhere; it is not used here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage

STOP_CHECK_SECONDS = 1.0
"""How often a waiting flush looks whether the buffer stopped, which ends its hand-overs."""


class DrainingProducerBuffer(ProducerBuffer):
    """Faust's producer buffer with a flush that waits for every record queued before it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.queued = 0
        """Records put into the buffer so far."""
        self.handed_over = 0
        """Records handed to the producer so far, in the order they were queued."""
        self._progress = asyncio.Event()

    def put(self, fut: FutureMessage) -> None:
        """Queue a record for the producer (see ``ProducerBuffer.put``)."""
        self.queued += 1
        super().put(fut)

    async def flush(self) -> None:
        """Return once every record queued before this call has been handed to the producer.

        Raises:
            RuntimeError: The buffer stopped with records not yet handed over (as Faust's).
        """
        target = self.queued
        while self.handed_over < target:
            if self.should_stop:
                msg = "Cannot flush: Producer not Running"
                raise RuntimeError(msg)
            self._progress.clear()
            with contextlib.suppress(TimeoutError):  # look again whether the buffer stopped
                await asyncio.wait_for(self._progress.wait(), STOP_CHECK_SECONDS)

    async def _send_pending(self, fut: FutureMessage) -> None:
        await super()._send_pending(fut)
        self.handed_over += 1
        self._progress.set()


class DrainingProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with :class:`DrainingProducerBuffer`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.app.conf.producer_threaded:
            msg = "the draining producer does not support producer_threaded"
            raise ValueError(msg)
        self.buffer = DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
        self.buffer.app = self.app
