"""The bench's reader of output topics stamps a record with the moment it became readable."""

import time

import pytest
from confluent_kafka import Message, Producer

from streams.kafka import ensure_topics
from streams.settings import Settings
from tests.bench import tally
from tests.bench.cluster import Cluster
from tests.bench.tally import TopicTally
from tests.streams.test_kafka import Topic

LONG_WAIT = 3.0
"""The reader's wait for more records in this test: a stamp after it would be that late."""


def keys(message: Message) -> list[str]:
    key = message.key()
    return [key.decode()] if key else []


def test_a_record_is_stamped_when_it_is_read_not_when_a_wait_for_more_ends(
    settings: Settings, unique_topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tally, "WAIT_SECONDS", LONG_WAIT)
    topic = f"{unique_topic_prefix}profiles"
    ensure_topics(settings, [Topic(topic, partitions=1)])
    cluster = Cluster(settings.bootstrap_servers, embedded=True, run_id="tally-test")
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 0})
    with TopicTally(cluster, [topic], keys) as reader:
        produced = time.time()
        producer.produce(topic, key=b"probe-1", value=b"profile")
        assert producer.flush(10) == 0
        while "probe-1" not in reader.seen() and time.time() < produced + 4 * LONG_WAIT:
            time.sleep(0.05)
        seen = reader.seen()

    assert reader.count() == 1
    assert seen["probe-1"] - produced < LONG_WAIT / 2
