"""The sink runtime: consume, batch, deliver, retry, dead-letter and commit for one sink.

One confluent-kafka consumer group per connector; offsets are committed by hand and only
after the target confirmed a batch, so a crash or stop never loses a record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, TypeVar

import structlog
import uvloop
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from connectors.batching import PartitionBatch, PartitionBatches
from connectors.dead_letters import ALERTS_TOPIC, DeadLetterWriter
from connectors.errors import ConnectorError, DeliveryError
from connectors.metrics import ConnectorMetrics
from connectors.outcome import sort_out
from connectors.retry import RetryPolicy
from connectors.shutdown import wait_for_shutdown_signal
from connectors.sink import Sink, SinkRecord
from schemas.catalog import get_topic
from schemas.codec import Codec, make_codec
from schemas.errors import SchemaError
from streams.kafka import consumer_config, ensure_topics, producer_config
from streams.settings import Settings

log = structlog.get_logger(__name__)

_T = TypeVar("_T")
_LAG_INTERVAL: Final = 1.0
_MIN_POLL_MS: Final = 300_000
_CLOSE_FLUSH_SECONDS: Final = 10.0
_ASSIGN_TIMEOUT_SECONDS: Final = 10.0


def group_id(connector: str) -> str:
    """The consumer group of a connector: `journeyhub-connect-<name>`."""
    return f"journeyhub-connect-{connector}"


@dataclass(frozen=True)
class RunnerOptions:
    """How a `SinkRunner` batches, retries and reports.

    Attributes:
        max_records: Records per batch at most.
        max_wait: Seconds the first record of a batch waits for more at most.
        retry: The retry budget of a batch.
        group_id: Consumer group; default `journeyhub-connect-<sink name>`.
        metrics_port: Serve `/metrics` on this port when set.
        metrics_host: Interface of the `/metrics` server.
    """

    max_records: int = 200
    max_wait: float = 0.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    group_id: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


def process_options(
    settings: Settings, metrics_port: int | None = None, **overrides: Any
) -> RunnerOptions:
    """Options of a connector run as its own process.

    Metrics are served on the given port, else on `JOURNEYHUB_METRICS_PORT`, on
    `JOURNEYHUB_WEB_HOST`, so every connector process is scraped the same way.
    """
    port = metrics_port if metrics_port is not None else settings.metrics_port
    return RunnerOptions(metrics_port=port, metrics_host=settings.web_host, **overrides)


class _Abandoned(Exception):
    """A stop was requested while a batch waited for a retry; it stays uncommitted."""


def _timestamp(message: Message) -> datetime | None:
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _headers(message: Message) -> tuple[tuple[str, bytes | None], ...]:
    headers = message.headers() or ()
    pairs = headers.items() if isinstance(headers, dict) else headers
    return tuple(
        (name, value.encode() if isinstance(value, str) else value) for name, value in pairs
    )


class SinkRunner:
    """Runs one sink: the Kafka side of a connector.

    Records are polled in a worker thread, decoded with the codec (an undecodable record is
    dead-lettered), batched per topic-partition and delivered in offset order. A retriable
    failure is retried with backoff within the retry budget; a permanent failure or a spent
    budget sends the record to `dlq.<topic>` with a `delivery_failed` alert while the rest
    of the batch flows. The batch's offset is committed once every record is delivered or
    dead-lettered. `stop()` stops fetching, lets batches in delivery finish (a batch waiting
    for a retry is abandoned uncommitted), commits and closes.
    """

    def __init__(
        self,
        sink: Sink,
        settings: Settings,
        options: RunnerOptions | None = None,
        *,
        codec: Codec | None = None,
        metrics: ConnectorMetrics | None = None,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.options = options or RunnerOptions()
        self.group_id = self.options.group_id or group_id(sink.name)
        self.metrics = metrics or ConnectorMetrics()
        self._codec = codec or make_codec(settings.schema_registry_url)
        self._batches = PartitionBatches(self.options.max_records, self.options.max_wait)
        self._stopping = asyncio.Event()
        self._committed: dict[tuple[str, int], int] = {}
        self._lag_checked = 0.0
        budget_ms = int(self.options.retry.max_elapsed * 1000) + 60_000
        # No poll while a batch is retried: the group must not evict us meanwhile.
        poll_interval_ms = max(_MIN_POLL_MS, budget_ms)
        self._consumer = Consumer(
            consumer_config(settings, self.group_id, **{"max.poll.interval.ms": poll_interval_ms})
        )
        self._producer = Producer(producer_config(settings))
        self._dead_letters = DeadLetterWriter(self._producer, self._codec, sink.name)
        # The consumer is not thread-safe: every call to it runs on this one thread.
        self._kafka_thread = ThreadPoolExecutor(1, thread_name_prefix=f"connect-{sink.name}")

    def stop(self) -> None:
        """Ask the runner to finish in-flight batches, commit and return from `run()`."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume and deliver until `stop()` is called; a runner runs once.

        Raises:
            ConnectorError: Kafka failed fatally or dead letters could not be written.
            BrokerError: The topics could not be created.
        """
        stop_metrics = self._serve_metrics()
        try:
            specs = [get_topic(topic) for topic in (*self.sink.topics, ALERTS_TOPIC)]
            await asyncio.to_thread(ensure_topics, self.settings, specs)
            await self.sink.open()
            self._consumer.subscribe(
                list(self.sink.topics), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            log.info("connector_started", connector=self.sink.name, group=self.group_id)
            while not self._stopping.is_set():
                await self._poll()
                await self._deliver_due()
        finally:
            self._batches.clear()
            await self.sink.close()
            await self._in_kafka_thread(self._consumer.close)
            await asyncio.to_thread(self._producer.flush, _CLOSE_FLUSH_SECONDS)
            self._kafka_thread.shutdown(wait=True)
            if stop_metrics is not None:
                stop_metrics()
            log.info("connector_stopped", connector=self.sink.name)

    def _serve_metrics(self) -> Callable[[], None] | None:
        if self.options.metrics_port is None:
            return None
        return self.metrics.serve(self.options.metrics_port, self.options.metrics_host)

    async def _in_kafka_thread(self, call: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._kafka_thread, call)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions_assigned",
            connector=self.sink.name,
            partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions),
        )
        self._commit_starting_positions(consumer, partitions)

    def _commit_starting_positions(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> None:
        """Commit where a new group starts reading: the beginning of each partition it lacks.

        Until a group has committed, the broker does not list it, and lag checks (`journeyhub
        lag`, the demo's wait, dashboards) miss the records it has not delivered yet. Kafka
        Connect's sink tasks commit their positions from the start for the same reason. The
        group reads from the earliest record, so committing the low watermark skips nothing.
        """
        try:
            committed = consumer.committed(partitions, timeout=_ASSIGN_TIMEOUT_SECONDS)
            starts = [
                TopicPartition(
                    tp.topic,
                    tp.partition,
                    consumer.get_watermark_offsets(tp, timeout=_ASSIGN_TIMEOUT_SECONDS)[0],
                )
                for tp in committed
                if tp.offset < 0
            ]
            if starts:
                consumer.commit(offsets=starts, asynchronous=False)
        except KafkaException as error:  # only visibility is at stake: the group still reads
            log.warning("starting_positions_not_committed", connector=self.sink.name, error=error)
            return
        for tp in starts:
            self._committed[(tp.topic, tp.partition)] = tp.offset

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Forget pending records of revoked partitions (called inside `consume`)."""
        revoked = [(tp.topic, tp.partition) for tp in partitions]
        self._batches.drop(revoked)
        for partition in revoked:
            self._committed.pop(partition, None)

    async def _poll(self) -> None:
        timeout = self._batches.wait_time()
        messages = await self._in_kafka_thread(
            partial(self._consumer.consume, self.options.max_records, timeout)
        )
        for message in messages:
            error = message.error()
            if error is None:
                self._add(message)
            elif error.fatal():
                msg = f"Kafka consumer of connector {self.sink.name} failed: {error.str()}"
                raise ConnectorError(msg)
            else:
                log.warning("consume_error", connector=self.sink.name, error=error.str())
        if time.monotonic() - self._lag_checked >= _LAG_INTERVAL:
            self._lag_checked = time.monotonic()
            await self._in_kafka_thread(self._update_lag)

    def _add(self, message: Message) -> None:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            return  # only error events lack a position, and they are handled by _poll
        raw_key, raw_value = message.key(), message.value()
        error: Exception | None = None
        key: str | None = None
        value: dict[str, Any] | None = None
        try:
            key = None if raw_key is None else raw_key.decode("utf-8")
            value = None if raw_value is None else self._codec.decode(topic, raw_value)
        except (UnicodeDecodeError, SchemaError) as exc:
            error = exc
        record = SinkRecord(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            value=value,
            headers=_headers(message),
            timestamp=_timestamp(message),
            raw_key=raw_key,
            raw_value=raw_value,
        )
        self._batches.add(record, error)

    def _update_lag(self) -> None:
        """Set the lag gauge from cached high watermarks (runs on the consumer thread)."""
        lag: dict[str, int] = {}
        for position in self._consumer.position(self._consumer.assignment()):
            _, high = self._consumer.get_watermark_offsets(position, cached=True)
            done = self._committed.get((position.topic, position.partition), position.offset)
            if high >= 0 and done >= 0:
                lag[position.topic] = lag.get(position.topic, 0) + max(0, high - done)
        for topic, records in lag.items():
            self.metrics.lag.labels(self.sink.name, topic).set(records)

    async def _deliver_due(self) -> None:
        """Process the due batches: partitions side by side, each in offset order."""
        due = self._batches.take_due()
        results = await asyncio.gather(
            *(self._process_in_order(batches) for batches in due.values()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _process_in_order(self, batches: list[PartitionBatch]) -> None:
        for batch in batches:
            if self._stopping.is_set():
                return  # not started, not committed: the next run delivers it
            try:
                await self._process(batch)
            except _Abandoned:
                log.info(
                    "batch_abandoned",
                    connector=self.sink.name,
                    topic=batch.topic,
                    partition=batch.partition,
                )
                return

    async def _process(self, batch: PartitionBatch) -> None:
        for record, error in batch.undecodable:
            self._dead_letter(record, error)
        if batch.records:
            await self._deliver(batch.records)
        await self._dead_letters.confirm()
        await self._commit(batch)

    async def _deliver(self, records: list[SinkRecord]) -> None:
        """Deliver records until each one is delivered or dead-lettered.

        Raises:
            _Abandoned: A stop was requested while waiting for a retry.
        """
        topic = records[0].topic
        started = time.monotonic()
        pending, attempt = records, 0
        while pending:
            attempt += 1
            error: DeliveryError | None = None
            with self.metrics.delivery_seconds.labels(self.sink.name, topic).time():
                try:
                    await self.sink.deliver(pending)
                except DeliveryError as exc:
                    error = exc
            outcome = sort_out(pending, error)
            self.metrics.delivered.labels(self.sink.name, topic).inc(outcome.delivered)
            for record, cause in outcome.dead:
                self._dead_letter(record, cause)
            if outcome.retry_error is None:
                return
            delay = self.options.retry.next_delay(
                attempt, time.monotonic() - started, outcome.retry_after
            )
            if delay is None:
                for record in outcome.retry:
                    self._dead_letter(record, outcome.retry_error)
                return
            self.metrics.retries.labels(self.sink.name, topic).inc(len(outcome.retry))
            log.info(
                "delivery_retry",
                connector=self.sink.name,
                topic=topic,
                records=len(outcome.retry),
                attempt=attempt,
                delay=round(delay, 3),
                status=outcome.retry_error.status,
            )
            if await self._stop_requested_within(delay):
                raise _Abandoned
            pending = outcome.retry

    async def _stop_requested_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _dead_letter(self, record: SinkRecord, error: Exception) -> None:
        self._dead_letters.write(record, error)
        self.metrics.dead_letters.labels(self.sink.name, record.topic).inc()
        log.warning(
            "record_dead_lettered",
            connector=self.sink.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=type(error).__name__,
            status=error.status if isinstance(error, DeliveryError) else None,
        )

    async def _commit(self, batch: PartitionBatch) -> None:
        offsets = [TopicPartition(batch.topic, batch.partition, batch.next_offset)]
        try:
            await self._in_kafka_thread(
                partial(self._consumer.commit, offsets=offsets, asynchronous=False)
            )
        except KafkaException as exc:
            # Typically a rebalance: the new owner of the partition delivers the batch again.
            log.warning(
                "commit_failed",
                connector=self.sink.name,
                topic=batch.topic,
                partition=batch.partition,
                error=str(exc.args[0]),
            )
            return
        self._committed[(batch.topic, batch.partition)] = batch.next_offset


def run_sink_process(runner: SinkRunner) -> None:
    """Run a sink runner as the work of its process, on uvloop's event loop, until signalled.

    A sink waits on its consumer, its target's sockets and timers for every batch; uvloop runs
    that waiting in C (as the stream worker does, see `streams.worker`).
    """
    uvloop.run(run_until_signalled(runner))


async def run_until_signalled(runner: SinkRunner) -> None:
    """Run a sink runner until SIGINT or SIGTERM, then stop it gracefully."""
    task = asyncio.create_task(runner.run())
    shutdown = asyncio.create_task(wait_for_shutdown_signal())
    done, _ = await asyncio.wait({task, shutdown}, return_when=asyncio.FIRST_COMPLETED)
    if shutdown in done:
        runner.stop()
    else:
        shutdown.cancel()
    await task
