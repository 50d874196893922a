"""Profile state per customer: the bytes the profile table keeps for one person.

A table's state is what its changelog holds for each key after compaction: the last value
written. Reading the changelog after a pipeline run and averaging those last values gives
the state per customer that the worker keeps in memory or RocksDB and that a restarted
worker has to recover.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from streams.app import APP_ID
from streams.profile_agent import PROFILES_TABLE
from tests.bench.cluster import Cluster, read_all

PROFILES_CHANGELOG = f"{APP_ID}-{PROFILES_TABLE}-changelog"
"""Faust names a table's changelog ``<app id>-<table>-changelog``."""


@dataclass(frozen=True)
class StateSize:
    """The last value of every key of a changelog, summed up.

    Attributes:
        keys: Keys that hold a value (tombstoned keys are gone).
        mean_bytes: Mean size of those values.
        max_bytes: Size of the largest one.
    """

    keys: int
    mean_bytes: float
    max_bytes: int


def last_value_sizes(cluster: Cluster, topic: str) -> dict[bytes, int]:
    """The size of the last value of every key of ``topic``; tombstoned keys are left out."""
    sizes: dict[bytes, int] = {}
    for message in read_all(cluster, topic):
        key, value = message.key() or b"", message.value()
        if value is None:
            sizes.pop(key, None)
        else:
            sizes[key] = len(value)
    return sizes


def profile_state(cluster: Cluster) -> StateSize:
    """The profile table's state per customer after a run on ``cluster``."""
    sizes = list(last_value_sizes(cluster, PROFILES_CHANGELOG).values())
    if not sizes:
        return StateSize(0, 0.0, 0)
    return StateSize(len(sizes), statistics.fmean(sizes), max(sizes))
