"""The worker's partitioner puts a key where Kafka's default partitioner does."""

import json

from aiokafka.partitioner import DefaultPartitioner

from streams.forwarded import key_partition
from streams.partitioner import KeyPartitioner

KEYS = [json.dumps(f"cust-{number:05d}").encode() for number in range(2_000)] + [
    b"",
    b"\x00\xff",
    "Müller".encode(),
]


def test_every_key_lands_where_kafkas_default_partitioner_puts_it() -> None:
    ours, aiokafkas = KeyPartitioner(), DefaultPartitioner()
    for count in (1, 3, 12):
        partitions = list(range(count))
        for key in KEYS * 2:  # the second time from what it remembers
            assert ours(key, partitions, partitions) == aiokafkas(key, partitions, partitions)


JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"abc": 479470107,
}
"""Hashes from the murmur2 test of Kafka's Java client (``UtilsTest.testMurmur2``)."""


def test_a_key_lands_where_the_java_client_puts_it() -> None:
    """The Java client's partition: ``Utils.toPositive(Utils.murmur2(key)) % partitions``."""
    partitions = list(range(100))
    for key, java_hash in JAVA_MURMUR2.items():
        assert KeyPartitioner()(key, partitions, partitions) == (java_hash & 0x7FFFFFFF) % 100


def test_a_record_without_key_goes_to_an_available_partition() -> None:
    for _ in range(50):
        assert KeyPartitioner()(None, [0, 1, 2, 3], [2, 3]) in {2, 3}
    assert KeyPartitioner()(None, [0, 1], []) in {0, 1}


def test_an_internal_topics_key_goes_where_the_partitioner_sends_it() -> None:
    partitions = list(range(12))
    key = "cust-00042"
    assert key_partition(key, 12) == KeyPartitioner()(
        json.dumps(key).encode(), partitions, partitions
    )
