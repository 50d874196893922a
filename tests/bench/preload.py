"""The benchmark's input: the realistic mix of source events, encoded once and reused.

Every scenario reads the same bytes, so a difference between two figures is the consumer's
doing and not the workload's; encoding happens before any clock starts.
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


def build_mix(events: int, seed: int, codec: Codec) -> list[EncodedEvent]:
    """Generate and encode ``events`` source records of the realistic workload.

    The mix has whatever the generator makes: shop and CMS events above all, RFID readings,
    social posts, a few ERP postings and plans, and one malformed record per source kind
    that must end in the dead letters.

    Args:
        events: The number of records: the first ones, in event-time order, of a workload
            generated large enough.
        seed: Seed of the generator; the same seed gives the same bytes.
        codec: The codec the worker reads with.
    """
    customers = max(1, round(events / EVENTS_PER_CUSTOMER * 1.05))
    generated, _truth = build_workload(customers, seed)
    while len(generated) < events:
        customers *= 2
        generated, _truth = build_workload(customers, seed)
    return [
        EncodedEvent(
            event.topic,
            event.key.encode(),
            codec.encode(event.topic, event.value) if event.value is not None else event.raw or b"",
        )
        for event in generated[:events]
    ]


def topic_shares(mix: list[EncodedEvent]) -> dict[str, int]:
    """How many records of the mix go to each topic, most first."""
    return dict(Counter(event.topic for event in mix).most_common())
