import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from faust.auth import SASLCredentials, SSLCredentials

from streams.broker import free_port
from streams.errors import BrokerError, SettingsError
from streams.kafka import (
    LIBRDKAFKA_LOGGER,
    client_config,
    consumer_config,
    ensure_topics,
    faust_broker_options,
    producer_config,
)
from streams.settings import Settings

EXTERNAL = {"KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092"}
SASL_SSL = {
    **EXTERNAL,
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "svc-journeyhub",
    "KAFKA_SASL_PASSWORD": "kafka-pass-123",
    "KAFKA_SSL_CAFILE": certifi.where(),
}


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int = 3
    compacted: bool = False


def test_a_plaintext_client_only_needs_the_bootstrap_servers() -> None:
    assert client_config(Settings.from_env(EXTERNAL)) == {
        "bootstrap.servers": "kafka-1:9092,kafka-2:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_sasl_over_tls_carries_mechanism_credentials_and_ca() -> None:
    config = client_config(Settings.from_env(SASL_SSL))

    assert config == {
        "bootstrap.servers": "kafka-1:9092,kafka-2:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc-journeyhub",
        "sasl.password": "kafka-pass-123",
        "ssl.ca.location": certifi.where(),
    }


def test_consumers_commit_by_hand_from_the_earliest_offset() -> None:
    config = consumer_config(Settings.from_env(EXTERNAL), "journeyhub-crm")

    assert config["group.id"] == "journeyhub-crm"
    assert config["enable.auto.commit"] == "false"
    assert config["auto.offset.reset"] == "earliest"
    assert config["session.timeout.ms"] == "45000"


def test_consumers_of_the_embedded_broker_use_a_short_session() -> None:
    config = consumer_config(Settings.from_env({}), "journeyhub-crm")

    assert config["session.timeout.ms"] == "6000"
    assert config["heartbeat.interval.ms"] == "2000"


def test_consumer_overrides_replace_the_defaults() -> None:
    overrides: dict[str, str | bool] = {"auto.offset.reset": "latest", "enable.partition.eof": True}
    config = consumer_config(Settings.from_env({}), "g", **overrides)

    assert config["auto.offset.reset"] == "latest"
    assert config["enable.partition.eof"] == "true"


def test_producers_wait_for_all_replicas_and_are_idempotent() -> None:
    config = producer_config(Settings.from_env(SASL_SSL))

    assert config["acks"] == "all"
    assert config["enable.idempotence"] == "true"
    assert config["linger.ms"] == "5"
    assert config["sasl.username"] == "svc-journeyhub"


@pytest.mark.parametrize("client", ["producer", "consumer"])
def test_a_client_logs_through_the_logging_chain_not_straight_to_stderr(
    client: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"})
    # Its own name: a client an earlier test of this process left behind may still write to
    # stderr (librdkafka names a client "<client.id>#<type>-<n>" in every line).
    name = f"journeyhub-log-test-{client}"
    poll: Callable[[float], object]
    if client == "producer":
        poll = Producer({**producer_config(settings), "client.id": name}).poll
    else:
        config = {**consumer_config(settings, "journeyhub-log-test"), "client.id": name}
        consumer = Consumer(config)
        consumer.subscribe(["never.read"])
        poll = consumer.poll

    with caplog.at_level(logging.DEBUG, logger=LIBRDKAFKA_LOGGER.name):
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            poll(0.2)

    assert any("Connection refused" in record.getMessage() for record in caplog.records)
    assert any(name in record.getMessage() for record in caplog.records)
    assert f"|{name}#" not in capfd.readouterr().err


def test_faust_gets_kafka_urls_and_short_timings_on_the_embedded_broker() -> None:
    options = faust_broker_options(Settings.from_env({"JOURNEYHUB_BROKER_PORT": "29092"}))

    assert options == {
        "broker": "kafka://127.0.0.1:29092",
        "broker_session_timeout": 6.0,
        "broker_heartbeat_interval": 2.0,
    }


def test_faust_gets_every_bootstrap_server() -> None:
    options = faust_broker_options(Settings.from_env(EXTERNAL))

    assert options["broker"] == "kafka://kafka-1:9092;kafka://kafka-2:9092"
    assert options["broker_session_timeout"] == 45.0
    assert "broker_credentials" not in options


def test_faust_gets_sasl_credentials_over_tls() -> None:
    credentials = faust_broker_options(Settings.from_env(SASL_SSL))["broker_credentials"]

    assert isinstance(credentials, SASLCredentials)
    assert credentials.username == "svc-journeyhub"
    assert credentials.password == "kafka-pass-123"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)


def test_faust_gets_tls_credentials_for_ssl() -> None:
    settings = Settings.from_env({**EXTERNAL, "KAFKA_SECURITY_PROTOCOL": "SSL"})

    credentials = faust_broker_options(settings)["broker_credentials"]

    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol.value == "SSL"


def test_a_ca_file_that_is_no_certificate_names_the_variable(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("not a certificate\n")
    settings = Settings.from_env(
        {**EXTERNAL, "KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(cafile)}
    )

    with pytest.raises(SettingsError, match=r"^KAFKA_SSL_CAFILE: expected a PEM CA certificate"):
        faust_broker_options(settings)


def test_ensure_topics_creates_topics_and_dead_letters_once(
    settings: Settings, unique_topic_prefix: str
) -> None:
    events = Topic(f"{unique_topic_prefix}events", partitions=2)
    profiles = Topic(f"{unique_topic_prefix}profiles", compacted=True)

    first = ensure_topics(settings, [events, profiles])
    second = ensure_topics(settings, [events, profiles])

    assert first == [events.name, f"dlq.{events.name}", profiles.name, f"dlq.{profiles.name}"]
    assert second == []
    metadata = AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(
        timeout=10
    )
    assert len(metadata.topics[events.name].partitions) == 2
    assert len(metadata.topics[f"dlq.{events.name}"].partitions) == 2


def test_ensure_topics_compacts_only_where_asked(
    settings: Settings, unique_topic_prefix: str
) -> None:
    profiles = Topic(f"{unique_topic_prefix}profiles", compacted=True)
    ensure_topics(settings, [profiles])

    policies = topic_policies(settings, profiles.name, f"dlq.{profiles.name}")

    assert policies[profiles.name] == "compact"
    assert policies[f"dlq.{profiles.name}"] in (None, "delete")


def test_ensure_topics_gives_no_dead_letter_topic_to_a_dead_letter_topic(
    settings: Settings, unique_topic_prefix: str
) -> None:
    dead_letters = Topic(f"dlq.{unique_topic_prefix}events")

    assert ensure_topics(settings, [dead_letters]) == [dead_letters.name]


def test_ensure_topics_without_kafka_is_a_broker_error() -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"})

    with pytest.raises(BrokerError, match=r"^cannot reach Kafka at 127\.0\.0\.1:"):
        ensure_topics(settings, [Topic("never.created")], timeout=1)


def topic_policies(settings: Settings, *topics: str) -> dict[str, str | None]:
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    resources = [ConfigResource(ResourceType.TOPIC, topic) for topic in topics]
    policies: dict[str, str | None] = {}
    for resource, future in admin.describe_configs(resources).items():
        entry = future.result(timeout=10).get("cleanup.policy")
        policies[resource.name] = entry.value if entry is not None else None
    return policies
