"""Operator views of the cluster: topics, consumer lag, dead letters and their replay.

Everything here reads watermarks and committed offsets through confluent-kafka's admin and
consumer APIs; nothing joins a consumer group except the replay, which commits what it
re-published so a second replay does not send the same dead letter twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Message,
    Producer,
)
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import ConfigResource

from schemas.catalog import CATALOG, dlq_topic, origin_of_dlq
from schemas.deadletter import parse_dead_letter_headers
from streams.errors import BrokerError
from streams.kafka import (
    admin_client,
    consumer_config,
    end_offsets,
    message_headers,
    message_position,
    producer_config,
)
from streams.settings import Settings

REPLAY_GROUP_PREFIX = "journeyhub-dlq-replay-"


@dataclass(frozen=True)
class TopicInfo:
    """What `journeyhub topics` shows about one topic."""

    name: str
    partitions: int
    messages: int
    compacted: bool
    in_catalog: bool


@dataclass(frozen=True)
class PartitionLag:
    """How far one consumer group is behind on one partition."""

    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        """Messages not yet committed by the group."""
        return max(self.end - max(self.committed, 0), 0)


@dataclass
class DeadLetterSummary:
    """Counts and latest reasons of one dead-letter topic."""

    topic: str
    origin: str
    count: int
    reasons: dict[str, int] = field(default_factory=dict)
    latest_message: str = ""


FETCH_WAIT_MS = 10
"""Longest wait of the inspector's fetches at the broker.

Requests on one connection are answered in order, so the next question about offsets waits
behind a fetch that the broker holds open for new records: librdkafka's 500 ms made each
topic's end offsets take half a second once a topic had been read.
"""


class Inspector:
    """Read-only cluster inspection with one admin client and one metadata consumer."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin = admin_client(settings)
        self._consumer = KafkaConsumer(
            consumer_config(
                settings, group_id="journeyhub-inspect", **{"fetch.wait.max.ms": FETCH_WAIT_MS}
            )
        )

    def close(self) -> None:
        """Release the consumer's and the admin client's connections.

        An admin client has no ``close()``; it disconnects once nothing refers to it. Kept
        until the caller's end (``journeyhub demo`` stops the embedded broker first), it
        printed librdkafka's "Connection refused" lines after a run that went well.
        """
        self._consumer.close()
        del self._admin

    def _partitions(self, topic: str) -> list[int]:
        metadata = self._admin.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            msg = f"topic {topic} does not exist; see `journeyhub topics`"
            raise BrokerError(msg)
        return sorted(metadata.partitions)

    def ends(self, topic: str) -> dict[int, int]:
        """The offset after the last record of every partition of a topic."""
        return end_offsets(self._consumer, topic, self._partitions(topic))

    def message_count(self, topic: str) -> int:
        """Messages currently held by a topic (end minus low watermark, summed)."""
        total = 0
        for partition, end in self.ends(topic).items():
            low, _ = self._consumer.get_watermark_offsets(
                KafkaTopicPartition(topic, partition), timeout=10
            )
            total += end - int(low)
        return total

    def topics(self) -> list[TopicInfo]:
        """Every topic of the cluster, internal ones excluded."""
        try:
            metadata = self._admin.list_topics(timeout=10)
            names = sorted(n for n in metadata.topics if not n.startswith("__"))
            policies = self._cleanup_policies(names)
            return [
                TopicInfo(
                    name=name,
                    partitions=len(metadata.topics[name].partitions),
                    messages=self.message_count(name),
                    compacted="compact" in policies.get(name, ""),
                    in_catalog=name in CATALOG or origin_of_dlq(name) is not None,
                )
                for name in names
            ]
        except KafkaException as error:
            msg = f"listing topics failed: {error}"
            raise BrokerError(msg) from error

    def _cleanup_policies(self, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        resources = [ConfigResource("topic", name) for name in names]
        policies: dict[str, str] = {}
        for resource, future in self._admin.describe_configs(resources).items():
            entry = future.result().get("cleanup.policy")
            policies[resource.name] = entry.value if entry is not None else ""
        return policies

    def lag(self) -> list[PartitionLag]:
        """Committed offsets against the end of every partition, per consumer group."""
        try:
            groups = self._admin.list_consumer_groups(request_timeout=10).result()
            rows: list[PartitionLag] = []
            ends: dict[str, dict[int, int]] = {}
            for listing in sorted(groups.valid, key=lambda g: g.group_id):
                request = [ConsumerGroupTopicPartitions(listing.group_id)]
                futures = self._admin.list_consumer_group_offsets(request, request_timeout=10)
                for future in futures.values():
                    for tp in future.result().topic_partitions:
                        if tp.topic not in ends:
                            ends[tp.topic] = self.ends(tp.topic)
                        end = ends[tp.topic].get(tp.partition, 0)
                        rows.append(
                            PartitionLag(listing.group_id, tp.topic, tp.partition, tp.offset, end)
                        )
            return rows
        except KafkaException as error:
            msg = f"reading consumer lag failed: {error}"
            raise BrokerError(msg) from error

    def dead_letters(self) -> list[DeadLetterSummary]:
        """Every non-empty dead-letter topic with its reasons counted by error class."""
        summaries = []
        for info in self.topics():
            origin = origin_of_dlq(info.name)
            if origin is None or info.messages == 0:
                continue
            summary = DeadLetterSummary(info.name, origin, info.messages)
            for message in self._read_all(info.name):
                reason = parse_dead_letter_headers(message_headers(message))
                summary.reasons[reason.error_class] = summary.reasons.get(reason.error_class, 0) + 1
                summary.latest_message = reason.error_message
            summaries.append(summary)
        return summaries

    def latest_values(self, topic: str) -> dict[str, bytes | None]:
        """The latest value per key of a topic, as a compacted topic would keep it."""
        latest: dict[str, bytes | None] = {}
        for message in self._read_all(topic):
            key = message.key()
            if key is not None:
                latest[key.decode("utf-8", "replace")] = message.value()
        return latest

    def _read_all(self, topic: str) -> list[Message]:
        """Read a topic from its start to its current end, without a consumer group."""
        ends = self.ends(topic)
        self._consumer.assign([KafkaTopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        messages = []
        pending = {p for p, end in ends.items() if end > 0}
        while pending:
            message = self._consumer.poll(5)
            if message is None:
                break
            if message.error():
                msg = f"reading {topic} failed: {message.error()}"
                raise BrokerError(msg)
            messages.append(message)
            partition, offset = message_position(message)
            if offset + 1 >= ends[partition]:
                pending.discard(partition)
        self._consumer.unassign()
        return messages


def replay_dead_letters(settings: Settings, topic: str, *, dry_run: bool) -> int:
    """Re-publish the dead letters of ``topic`` to it; return how many were (or would be) sent.

    The replay group commits after the broker acknowledged the re-published records, so
    running the replay again sends only dead letters that arrived since.
    """
    origin = origin_of_dlq(topic) or topic
    source = dlq_topic(origin)
    group = REPLAY_GROUP_PREFIX + origin
    consumer = KafkaConsumer(consumer_config(settings, group_id=group))
    producer = Producer(producer_config(settings))
    try:
        metadata = consumer.list_topics(source, timeout=10).topics.get(source)
        if metadata is None or metadata.error is not None:
            return 0
        partitions = sorted(metadata.partitions)
        committed = consumer.committed(
            [KafkaTopicPartition(source, p) for p in partitions], timeout=10
        )
        ends = end_offsets(consumer, source, partitions)
        starts = {
            tp.partition: tp.offset if tp.offset >= 0 else OFFSET_BEGINNING for tp in committed
        }
        pending = {p for p in partitions if ends[p] > max(starts[p], 0)}
        consumer.assign([KafkaTopicPartition(source, p, starts[p]) for p in partitions])
        sent = 0
        last: dict[int, int] = {}
        while pending:
            message = consumer.poll(5)
            if message is None:
                break
            if message.error():
                msg = f"reading {source} failed: {message.error()}"
                raise BrokerError(msg)
            sent += 1
            partition, offset = message_position(message)
            last[partition] = offset
            if not dry_run:
                producer.produce(
                    origin,
                    key=message.key(),
                    value=message.value(),
                    headers=[("replayed.from", f"{source}:{partition}:{offset}".encode())],
                )
            if offset + 1 >= ends[partition]:
                pending.discard(partition)
        if not dry_run and last:
            if producer.flush(30):
                msg = f"re-publishing to {origin} was not confirmed within 30 s"
                raise BrokerError(msg)
            consumer.commit(
                offsets=[KafkaTopicPartition(source, p, o + 1) for p, o in last.items()],
                asynchronous=False,
            )
        return sent
    except KafkaException as error:
        msg = f"replaying {source} failed: {error}"
        raise BrokerError(msg) from error
    finally:
        consumer.close()
