"""Faust's Kafka transport made fit for the embedded broker: true ends, short fetches, order.

The embedded broker answers a ListOffsets request with the base offset of a partition's last
record batch plus one. Faust recovers a table by reading its changelog up to that listed end,
so it would drop the rest of a last batch of several records. Correcting the end here, where
recovery asks for it, lets the producer send batches of many records (one produce request
carries hundreds of records instead of one per partition) without losing table state. The
producer batches in send order (:mod:`streams.in_order_producer`), which the agents' rule of
outputs before state needs once many records share a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.errors import BrokerError
from streams.in_order_producer import InOrderProducer

FETCH_WAIT_MS = 50
"""Longest wait of a fetch, instead of Faust's 1.5 s.

The embedded broker answers a fetch that found no records late, close to the end of its wait,
even when records arrive meanwhile; every hop between two agents then took most of that wait.
The fetch that learns an end has its last batch there and nothing to wait for.
"""
FETCH_MIN_BYTES = 4096
"""Least data a fetch waits for (up to :data:`FETCH_WAIT_MS`) before the broker answers it.

With Kafka's default of one byte the broker answers as soon as anything is there: under a
moderate load a consumer fetched some 80 times a second, a few records each, and a fetch of
the worker's 70 partitions costs the worker (aiokafka writes and parses it in Python) and the
broker more than the records in it. At 200 events a second the worker used three quarters of
a core; waiting for 4 KiB, half a core, for some 20 ms more per event (see the README).
"""
POLL_MS = 200
"""Longest wait of one poll for those fetches."""
END_TIMEOUT = 30.0
"""Seconds to learn the ends of every partition before recovery gives up."""
PRODUCER_LINGER = 0.01
"""Seconds a produced record waits for others to share its request.

Every event makes several records (forwards, changelog entries, outputs); writing a request
per record costs the broker and the worker more than the records in it. 10 ms per hop is
small next to a fetch's wait (:data:`FETCH_WAIT_MS`).
"""


async def fetched_ends(
    new_consumer: Callable[[], aiokafka.AIOKafkaConsumer], listed: Mapping[TP, int]
) -> dict[TP, int]:
    """Return the true end of each partition: the high watermark of a fetch of its last batch.

    A fetch response carries the partition's high watermark, which the embedded broker gets
    right; on Apache Kafka it equals the listed end, and the fetch only confirms it.

    Args:
        new_consumer: Makes a consumer without a group, started and stopped here; called
            only when some partition holds records (an unused consumer warns when collected).
        listed: The ends the broker listed, by partition.

    Returns:
        The ends, never before the listed ones.

    Raises:
        BrokerError: A partition's end could not be learned within :data:`END_TIMEOUT`.
    """
    ends = dict(listed)
    pending = {tp: end for tp, end in listed.items() if end is not None and end > 0}
    if not pending:
        return ends
    consumer = new_consumer()
    try:
        await consumer.start()
        consumer.assign(list(pending))
        for tp, end in pending.items():
            consumer.seek(tp, end - 1)
        deadline = time.monotonic() + END_TIMEOUT
        while pending and time.monotonic() < deadline:
            await consumer.getmany(*pending, timeout_ms=POLL_MS)
            for tp in list(pending):
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    ends[tp] = max(highwater, pending.pop(tp))
    finally:
        await consumer.stop()
    if pending:
        msg = f"could not read the end of changelog partitions {sorted(pending)} in time"
        raise BrokerError(msg)
    return ends


class EmbeddedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with short fetches, answering recovery with the true ends."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads the option only when the consumer starts, which comes later.
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS  # noqa: SLF001 - no public setter
        consumer._fetch_min_bytes = FETCH_MIN_BYTES  # noqa: SLF001
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction:  # last stable offsets, which a fetch cannot correct
            return listed
        return await fetched_ends(self._end_reader, listed)

    def _end_reader(self) -> aiokafka.AIOKafkaConsumer:
        """A short-lived consumer without a group, connected as the app's own consumer is."""
        conf = self.app.conf
        transport: Any = self.transport
        return aiokafka.AIOKafkaConsumer(
            client_id=conf.broker_client_id,
            bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
            request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_WAIT_MS,
            **faust_aiokafka.credentials_to_aiokafka_auth(
                conf.broker_credentials, conf.ssl_context
            ),
        )


class EmbeddedConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with :class:`EmbeddedConsumerThread`."""

    def _new_consumer_thread(self) -> EmbeddedConsumerThread:
        return EmbeddedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class EmbeddedTransport(faust_aiokafka.Transport):
    """Faust's ``kafka://`` transport with :class:`EmbeddedConsumer` and an in-order producer."""

    Consumer = EmbeddedConsumer
    Producer = InOrderProducer


def use_embedded_transport(app: faust.App) -> None:
    """Make the app consume and produce as the embedded broker needs (see the module).

    Call it right after creating the app, before any topic, table or agent is declared.
    """
    app.conf.producer_linger = PRODUCER_LINGER
    app.transport = EmbeddedTransport(app.conf.broker_consumer, app)
