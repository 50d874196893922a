"""Each pipeline run on a shared Kafka preloads new people, so no run reads another's events."""

import json
import uuid
from pathlib import Path

import pytest

from schemas.codec import make_codec
from streams.profile_agent import PROFILES_TOPIC
from tests.bench.cluster import Cluster, read_all
from tests.bench.pipeline import run_pipeline
from tests.bench.preload import EncodedEvent, MixSupply, build_mix

SEED = 7
QUICK_JOIN = {"KAFKA_SESSION_TIMEOUT_MS": "6000"}
"""A worker joins the group of the run before within seconds, as on the embedded broker."""


PERSONAL = frozenset(
    {"event_id", "customer_id", "order_id", "chip_id", "post_id", "email", "phone"}
)
"""Fields that name a person, an event or what belongs to one person."""


def _ids(mix: list[EncodedEvent]) -> set[str]:
    """Every key of the mix's records and every value of a :data:`PERSONAL` field."""
    codec = make_codec(None)
    found: set[str] = set()
    for event in mix:
        found.add(event.key.decode())
        if event.key == b"malformed":  # one undecodable record per source kind
            continue
        for name, value in codec.decode(event.topic, event.value).items():
            if isinstance(value, str) and name in PERSONAL:
                found.add(value)
    return found


def test_on_a_fresh_embedded_broker_every_run_gets_the_same_mix() -> None:
    codec = make_codec(None)
    mix = build_mix(600, SEED, codec)
    supply = MixSupply(mix, SEED, codec)

    assert supply.for_run(400, embedded=True) == mix[:400]
    assert supply.for_run(400, embedded=True) == mix[:400]


def test_on_a_shared_kafka_each_run_gets_people_and_ids_no_other_run_had() -> None:
    codec = make_codec(None)
    mix = build_mix(600, SEED, codec)
    supply = MixSupply(mix, SEED, codec)

    first, second = (supply.for_run(600, embedded=False) for _ in range(2))

    assert len(first) == len(second) == 600
    shared_by_design = {"cmp-sea-q3", "cmp-print-herbst", "malformed"}  # plans, invoices
    for one, other in ((mix, first), (mix, second), (first, second)):
        common = _ids(one) & _ids(other)
        assert {value for value in common if not value.startswith("1000-2026-")} <= (
            shared_by_design
        )


@pytest.mark.slow
def test_a_second_run_on_a_shared_kafka_builds_as_many_new_profiles_as_the_first(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    codec = make_codec(None)
    supply = MixSupply(build_mix(1500, SEED, codec), SEED, codec)
    shared = Cluster(kafka_bootstrap, embedded=False, run_id=uuid.uuid4().hex[:8])
    profiles_after: list[int] = []

    for _ in range(2):
        mix = supply.for_run(1500, embedded=shared.embedded)
        run = run_pipeline(shared, mix, 1, tmp_path / "logs", timeout=120, settings=QUICK_JOIN)
        assert run.complete
        keys = {message.key() for message in read_all(shared, PROFILES_TOPIC)}
        profiles_after.append(len(keys))

    first_run, second_run = profiles_after[0], profiles_after[1] - profiles_after[0]
    assert first_run > 200
    assert second_run >= 0.9 * first_run, json.dumps(profiles_after)
