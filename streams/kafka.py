"""Kafka client configuration and topic creation derived from the settings.

The one place that turns :class:`~streams.settings.Settings` into confluent-kafka and
Faust options, so security, timeouts and topic layout agree across every client.
"""

import logging
import ssl
import time
from collections.abc import Iterable
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from faust.auth import SASLCredentials, SSLCredentials

from schemas.catalog import DLQ_PREFIX
from streams.errors import BrokerError, SettingsError
from streams.settings import Settings

KafkaConfig = dict[str, str | int | float | bool]
"""librdkafka options as confluent-kafka's clients accept them (the values here are text)."""

ClientConfig = dict[str, str | int | float | bool | logging.Logger]
"""A consumer's or producer's options with the logger its own log lines go to."""

LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
"""Where every confluent-kafka client's own log lines go: through the process's logging
chain (levels, format, scrubbing) rather than straight to stderr, where librdkafka would
print even its informational notices into a user's terminal. A client hands them over
when it is polled."""

_MAX_HEARTBEAT_INTERVAL = 3.0
_MAX_REPLICATION_FACTOR = 3
_ALREADY_EXISTS = KafkaError.TOPIC_ALREADY_EXISTS


class TopicLike(Protocol):
    """What :func:`ensure_topics` needs to know about a topic."""

    @property
    def name(self) -> str:
        """The topic name."""

    @property
    def partitions(self) -> int:
        """The number of partitions."""

    @property
    def compacted(self) -> bool:
        """True when the topic keeps only the latest value per key."""


END_FETCH_POLL_SECONDS = 0.05
"""Longest wait of one poll for the last batches of the partitions whose end is sought.

A poll returns early only once it has as many records as it asks for, which the last batches
seldom hold: a long poll made every topic's end cost the whole wait (half a second each made
`journeyhub lag` take ten seconds on a busy stack).
"""
EMBEDDED_CLUSTER_ID = "tansu_cluster"
"""The cluster id the embedded broker (Tansu) reports unless told otherwise."""


def is_embedded_broker(settings: Settings) -> bool:
    """Whether the cluster is the embedded broker, whose end offsets need care."""
    metadata = admin_client(settings).list_topics(timeout=10)
    return metadata.cluster_id == EMBEDDED_CLUSTER_ID


def message_position(message: Message) -> tuple[int, int]:
    """Partition and offset of a consumed message (librdkafka sets both on every record)."""
    partition, offset = message.partition(), message.offset()
    if partition is None or offset is None:
        msg = "a consumed Kafka message has no partition or offset"
        raise BrokerError(msg)
    return partition, offset


def end_offsets(consumer: Consumer, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The offset after the last record of each partition.

    The embedded broker answers a ListOffsets request with the base offset of the last
    record batch plus one, short of the end when that batch holds several records. The high
    watermark of a fetch response is right, so the last batch is fetched to learn it; on
    Apache Kafka the listed offset is already the end and the fetch only confirms it.
    Leaves the consumer unassigned.
    """
    listed = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in partitions
    }
    ends = {p: 0 for p, end in listed.items() if end <= 0}
    pending = {p for p in listed if p not in ends}
    consumer.assign([TopicPartition(topic, p, listed[p] - 1) for p in pending])
    deadline = time.monotonic() + 30
    try:
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(100, END_FETCH_POLL_SECONDS):
                partition = message.partition()
                if message.error() is None and partition in pending:
                    fetched = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), cached=True
                    )
                    ends[partition] = max(fetched[1], listed[partition])
                    pending.discard(partition)
    finally:
        consumer.unassign()
    if pending:
        msg = f"could not read the end of {topic} partitions {sorted(pending)} within 30 s"
        raise BrokerError(msg)
    return ends


def message_headers(message: Message) -> list[tuple[str, bytes]]:
    """A message's headers as (name, bytes) pairs, whatever form the client gave them in."""
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return [(k, v.encode() if isinstance(v, str) else (v or b"")) for k, v in pairs]


def client_config(settings: Settings) -> KafkaConfig:
    """Connection and security options shared by every confluent-kafka client.

    Args:
        settings: The journeyhub settings.

    Returns:
        ``bootstrap.servers``, ``security.protocol`` and, when configured, the SASL and
        TLS options.
    """
    protocol = settings.kafka_security_protocol
    config: KafkaConfig = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": protocol,
    }
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username or ""
        config["sasl.password"] = password.get_secret_value() if password else ""
    if protocol.endswith("SSL") and settings.kafka_ssl_cafile is not None:
        config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    return config


def admin_client(settings: Settings) -> AdminClient:
    """An admin client for the configured Kafka that logs to :data:`LIBRDKAFKA_LOGGER`."""
    return AdminClient(client_config(settings), logger=LIBRDKAFKA_LOGGER)


def consumer_config(
    settings: Settings, group_id: str, **overrides: str | int | float | bool
) -> ClientConfig:
    """Options for a confluent-kafka consumer that commits by hand.

    Args:
        settings: The journeyhub settings.
        group_id: The consumer group.
        **overrides: Further or replacing librdkafka options, e.g.
            ``**{"max.poll.interval.ms": 600000}``; booleans become ``true``/``false``.

    Returns:
        The options: no auto-commit, read from the earliest offset, the session
        timeout of :attr:`Settings.session_timeout` (short on the embedded broker), and
        :data:`LIBRDKAFKA_LOGGER` for the client's log lines.
    """
    session = settings.session_timeout
    return {
        **client_config(settings),
        "logger": LIBRDKAFKA_LOGGER,
        "group.id": group_id,
        "enable.auto.commit": "false",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": str(round(session * 1000)),
        "heartbeat.interval.ms": str(round(_heartbeat_interval(session) * 1000)),
        **_options(overrides),
    }


def producer_config(settings: Settings, **overrides: str | int | float | bool) -> ClientConfig:
    """Options for an idempotent confluent-kafka producer that waits for all replicas.

    Args:
        settings: The journeyhub settings.
        **overrides: Further or replacing librdkafka options, as in :func:`consumer_config`.

    Returns:
        The options with ``acks=all``, idempotence, a 5 ms linger for batching and the
        murmur2 partitioner that Java clients and Faust use, so a key lands on the same
        partition whoever produced it, and :data:`LIBRDKAFKA_LOGGER` for the client's log
        lines.
    """
    return {
        **client_config(settings),
        "logger": LIBRDKAFKA_LOGGER,
        "partitioner": "murmur2_random",
        "acks": "all",
        "enable.idempotence": "true",
        "linger.ms": "5",
        **_options(overrides),
    }


def faust_broker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` that point it at the configured Kafka.

    Args:
        settings: The journeyhub settings.

    Returns:
        ``broker`` (``kafka://`` URLs), ``broker_credentials`` when security is
        configured, and the session timeout of :attr:`Settings.session_timeout` with a
        heartbeat to match.

    Raises:
        SettingsError: ``KAFKA_SSL_CAFILE`` is not a PEM certificate file.
    """
    servers = settings.bootstrap_servers.split(",")
    options: dict[str, Any] = {"broker": ";".join(f"kafka://{server}" for server in servers)}
    credentials = _faust_credentials(settings)
    if credentials is not None:
        options["broker_credentials"] = credentials
    options["broker_session_timeout"] = settings.session_timeout
    options["broker_heartbeat_interval"] = _heartbeat_interval(settings.session_timeout)
    return options


def ensure_topics(settings: Settings, specs: Iterable[TopicLike], timeout: float = 30) -> list[str]:
    """Create the missing topics of ``specs`` and their ``dlq.<name>`` topics.

    Safe to call on every start: existing topics are left as they are. Dead-letter
    topics get the partitions of their origin and are never compacted, so every dead
    letter stays. The replication factor is 1 on the embedded broker and
    ``min(3, brokers in the cluster)`` elsewhere.

    Args:
        settings: The journeyhub settings.
        specs: The topics to have.
        timeout: Seconds to wait for the broker's answers.

    Returns:
        The names of the topics created by this call, in the order of ``specs``.

    Raises:
        BrokerError: Kafka cannot be reached or refused to create a topic.
    """
    admin = admin_client(settings)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        msg = f"cannot reach Kafka at {settings.bootstrap_servers}: {_reason(exc)}"
        raise BrokerError(msg) from None
    replicas = (
        1
        if settings.uses_embedded_broker
        else min(_MAX_REPLICATION_FACTOR, max(len(metadata.brokers), 1))
    )
    wanted: dict[str, NewTopic] = {}
    for spec in specs:
        policy = {"cleanup.policy": "compact"} if spec.compacted else {}
        wanted[spec.name] = NewTopic(spec.name, spec.partitions, replicas, config=policy)
        if not spec.name.startswith(DLQ_PREFIX):
            dead_letters = f"{DLQ_PREFIX}{spec.name}"
            wanted[dead_letters] = NewTopic(dead_letters, spec.partitions, replicas)
    missing = [topic for name, topic in wanted.items() if name not in metadata.topics]
    if not missing:
        return []
    futures = admin.create_topics(missing, operation_timeout=timeout, request_timeout=timeout)
    created = []
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            error = exc.args[0]
            if not (isinstance(error, KafkaError) and error.code() == _ALREADY_EXISTS):
                msg = f"could not create topic {name}: {_reason(exc)}"
                raise BrokerError(msg) from None
        else:
            created.append(name)
    return [name for name in wanted if name in created]


def _heartbeat_interval(session_timeout: float) -> float:
    """A third of the session timeout, as Kafka advises, but at most 3 s."""
    return min(session_timeout / 3, _MAX_HEARTBEAT_INTERVAL)


def _options(overrides: KafkaConfig) -> KafkaConfig:
    """Client options as text, the way librdkafka reads them."""
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in overrides.items()
    }


def _faust_credentials(settings: Settings) -> SASLCredentials | SSLCredentials | None:
    protocol = settings.kafka_security_protocol
    context = _ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    cafile = settings.kafka_ssl_cafile
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except ssl.SSLError as exc:
        msg = f"KAFKA_SSL_CAFILE: expected a PEM CA certificate file, got {str(cafile)!r} ({exc})"
        raise SettingsError(msg) from None


def _reason(exc: KafkaException) -> str:
    error = exc.args[0]
    return str(error.str()) if isinstance(error, KafkaError) else str(error)
