"""Reading output topics while a scenario runs: how many records came, and when a key came.

Counting by consuming is exact on every broker (the embedded one lists the end of a topic
short of its last batch), and the moment a record is read is when it became visible.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, Message, TopicPartition

from tests.bench.cluster import Cluster

Spotter = Callable[[Message], Iterable[str]]
"""Names the probes a record shows (e.g. session ids in a profile); none for most records."""
_ASSIGN_TIMEOUT = 10.0
WAIT_SECONDS = 0.05
"""Longest wait for the next record before the reader checks whether it should stop."""
BATCH = 1000
"""Records taken at once after the first, without waiting for more."""


class TopicTally:
    """Consumes topics in a background thread; use it as a context manager.

    On a fresh embedded broker it reads from the beginning, elsewhere from the end as of
    its start, so it sees exactly what the scenario writes.
    """

    def __init__(
        self, cluster: Cluster, topics: Iterable[str], spot: Spotter | None = None
    ) -> None:
        self._cluster = cluster
        self._topics = list(topics)
        self._spot = spot
        self._count = 0
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "group.id": f"bench-tally-{cluster.run_id}",
                "enable.auto.commit": "false",
                "fetch.wait.max.ms": "10",
            }
        )
        self._thread = threading.Thread(target=self._run, name="bench-tally", daemon=True)

    def __enter__(self) -> TopicTally:
        metadata = self._consumer.list_topics(timeout=_ASSIGN_TIMEOUT)
        start = OFFSET_BEGINNING if self._cluster.embedded else OFFSET_END
        self._consumer.assign(
            [
                TopicPartition(name, partition, start)
                for name in self._topics
                if name in metadata.topics
                for partition in metadata.topics[name].partitions
            ]
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()

    def count(self) -> int:
        """Records read so far."""
        with self._lock:
            return self._count

    def seen(self) -> dict[str, float]:
        """Every probe spotted so far, with the ``time.time()`` it was first read."""
        with self._lock:
            return dict(self._seen)

    def _run(self) -> None:
        """Read records as they come and stamp each with the moment it was read.

        ``consume`` would wait out its whole timeout whenever fewer records than asked for
        are there, and stamp them that much late: the first record is waited for alone, and
        what came with it is taken without waiting.
        """
        while not self._stop.is_set():
            first = self._consumer.poll(WAIT_SECONDS)
            if first is None:
                continue
            messages = [first, *self._consumer.consume(BATCH, 0)]
            now = time.time()
            spotted = [
                probe
                for message in messages
                if message.error() is None and self._spot is not None
                for probe in self._spot(message)
            ]
            with self._lock:
                self._count += sum(1 for message in messages if message.error() is None)
                for probe in spotted:
                    self._seen.setdefault(probe, now)
