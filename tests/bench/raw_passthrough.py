"""Scenario (a): the ceiling, a bare aiokafka consumer that forwards every record it reads.

It is the same client library Faust drives, with nothing between fetch and send, so the
gap between this and the pipeline is what the stream framework and our code cost.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.bench.cluster import Cluster
from tests.bench.measure import BenchTimeoutError, Throughput

POLL_MS = 500


async def _forward(cluster: Cluster, source: str, sink: str, count: int) -> Throughput:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=cluster.bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        forwarded = 0
        started: float | None = None
        while forwarded < count:
            batches = await consumer.getmany(timeout_ms=POLL_MS)
            if started is None and batches:
                started = time.monotonic()
            sent = [
                await producer.send(sink, key=record.key, value=record.value)
                for records in batches.values()
                for record in records
            ]
            await asyncio.gather(*sent)
            await consumer.commit()
            forwarded += len(sent)
        return Throughput(forwarded, time.monotonic() - (started or time.monotonic()))
    finally:
        await producer.stop()
        await consumer.stop()


def run_raw_passthrough(
    cluster: Cluster, source: str, sink: str, count: int, timeout: float = 120
) -> Throughput:
    """Forward ``count`` preloaded records from ``source`` to ``sink`` and time it.

    The clock starts with the first fetched batch, so joining the group does not count, and
    stops when the broker acknowledged the last forwarded record.
    """
    try:
        return asyncio.run(asyncio.wait_for(_forward(cluster, source, sink, count), timeout))
    except TimeoutError:
        msg = f"raw passthrough: not {count} events forwarded within {timeout:g} s"
        raise BenchTimeoutError(msg) from None
