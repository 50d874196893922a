"""Kafka's default partitioner, remembering the hash of recently seen keys.

Every keyed record the worker sends goes to the partition Kafka's default partitioner picks,
murmur2 of the key's bytes, as Java clients, librdkafka's ``murmur2_random`` and Faust do, so
that a key lands on the same partition whoever produces it. aiokafka computes murmur2 in pure
Python on every send, and the worker handles one customer's key several times per event (the
bundle that routes the event, the emitted profile, the profile table's changelog): the hash of
the most recent keys is kept instead of computed again.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

REMEMBERED_KEYS = 16_384
"""How many keys' hashes are kept: about 4 MB. A key comes again within a second or two (its
bundle, then its profile and changelog), while a busy worker sees a few thousand keys a second."""


@functools.lru_cache(maxsize=REMEMBERED_KEYS)
def _positive_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_of(key: bytes, partitions: int) -> int:
    """The partition among ``partitions`` that Kafka's default partitioner picks for ``key``."""
    return _positive_hash(key) % partitions


class KeyPartitioner:
    """aiokafka's partitioner interface; picks what its ``DefaultPartitioner`` picks."""

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        """The partition of ``key``: murmur2 of the key, or a random one when there is no key."""
        if key is None:
            return random.choice(available or all_partitions)  # noqa: S311 - spreads load only
        return all_partitions[partition_of(key, len(all_partitions))]
