"""The bench's profile-state figure: the last value of every key that still holds one."""

from confluent_kafka import Producer

from streams.kafka import ensure_topics
from streams.settings import Settings
from tests.bench.cluster import Cluster
from tests.bench.state_size import last_value_sizes
from tests.streams.test_kafka import Topic


def test_each_key_counts_with_its_last_value_and_tombstones_drop_out(
    settings: Settings, unique_topic_prefix: str
) -> None:
    topic = f"{unique_topic_prefix}changelog"
    ensure_topics(settings, [Topic(topic, partitions=2)])
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 50})
    for key, value in [
        (b"anna", b"x" * 10),
        (b"ben", b"y" * 20),
        (b"anna", b"x" * 30),
        (b"ben", None),
        (b"cleo", b"z" * 5),
    ]:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    cluster = Cluster(settings.bootstrap_servers, embedded=True, run_id="state-test")
    assert last_value_sizes(cluster, topic) == {b"anna": 30, b"cleo": 5}
