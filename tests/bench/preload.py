"""The benchmark's input: the realistic mix of source events, encoded once and reused.

Every scenario on a fresh embedded broker reads the same bytes, so a difference between two
figures is the consumer's doing and not the workload's; encoding happens before any clock
starts. On a shared Kafka the pipeline's topics and tables outlive a run, so each run there
gets a mix of new people (:class:`MixSupply`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from schemas.codec import Codec
from streams.workload import build_workload

EVENTS_PER_CUSTOMER = 6.3
"""About how many events one generated customer journey has (measured on the mix)."""


@dataclass(frozen=True)
class EncodedEvent:
    """One source record ready to send: topic, key and value bytes."""

    topic: str
    key: bytes
    value: bytes


def build_mix(events: int, seed: int, codec: Codec, first_person: int = 0) -> list[EncodedEvent]:
    """Generate and encode ``events`` source records of the realistic workload.

    The mix has whatever the generator makes: shop and CMS events above all, RFID readings,
    social posts, a few ERP postings and plans, and one malformed record per source kind
    that must end in the dead letters.

    Args:
        events: The number of records: the first ones, in event-time order, of a workload
            generated large enough.
        seed: Seed of the generator; the same seed gives the same bytes.
        codec: The codec the worker reads with.
        first_person: Number of the mix's first person (see `WorkloadBuilder`).
    """
    customers = max(1, round(events / EVENTS_PER_CUSTOMER * 1.05))
    generated, _truth = build_workload(customers, seed, first_person)
    while len(generated) < events:
        customers *= 2
        generated, _truth = build_workload(customers, seed, first_person)
    return [
        EncodedEvent(
            event.topic,
            event.key.encode(),
            codec.encode(event.topic, event.value) if event.value is not None else event.raw or b"",
        )
        for event in generated[:events]
    ]


class MixSupply:
    """The mix each pipeline run preloads or offers.

    A fresh embedded broker holds nothing from an earlier run, so every run there gets the
    same mix. On a shared Kafka (``KAFKA_BOOTSTRAP_SERVERS``) the pipeline's contract topics,
    consumer group and tables outlive a run: the same events again would be read as
    redeliveries and skipped, and the same people found in the tables. Each run there gets
    the same number of events of people no earlier run had.
    """

    def __init__(self, mix: list[EncodedEvent], seed: int, codec: Codec) -> None:
        self.mix = mix
        self._seed = seed
        self._codec = codec
        self._next_person = _most_people(len(mix))

    def for_run(self, events: int, *, embedded: bool) -> list[EncodedEvent]:
        """The first ``events`` events of the mix, or of a mix of new people on a shared Kafka."""
        if embedded:
            return self.mix[:events]
        first_person = self._next_person
        self._next_person += _most_people(events)
        return build_mix(events, self._seed, self._codec, first_person)


def _most_people(events: int) -> int:
    """More people than a mix of ``events`` events can have.

    Every person makes at least one event, and `build_mix` doubles the people only while the
    events fall short, so it stops below twice the events.
    """
    return 2 * events


def topic_shares(mix: list[EncodedEvent]) -> dict[str, int]:
    """How many records of the mix go to each topic, most first."""
    return dict(Counter(event.topic for event in mix).most_common())
