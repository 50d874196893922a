"""Following a probe through the worker's hops by the timestamps of the records that carried it."""

from datetime import UTC, datetime

from confluent_kafka import Producer

from schemas.catalog import CATALOG
from schemas.codec import make_codec
from streams.bundles import encode_bundle
from streams.forwarded import ForwardedEvent
from streams.identifiers import add_identifiers, identity_key
from streams.identity_agent import IDENTITY_EVENTS, PROFILE_EVENTS
from streams.kafka import ensure_topics
from streams.profile import Profile
from streams.settings import Settings
from tests.bench.cluster import Cluster
from tests.bench.hops import STAGES, Hop, hops, probe_moments
from tests.bench.latency import PROBE_TOPIC, PROFILES, LatencyRun, probe_prefix
from tests.streams.test_kafka import Topic


def test_each_hop_is_timed_over_the_probes_seen_at_every_stage() -> None:
    moments = {
        "p1": dict(zip(STAGES, [0, 10, 30, 60, 70], strict=True)),
        "p2": dict(zip(STAGES, [0, 20, 50, 70, 90], strict=True)),
        "p3": dict(zip(STAGES[:3], [0, 5, 6], strict=True)),  # its profile never came
    }

    assert hops(moments) == [
        Hop("intake", 2, 10, 20),
        Hop("identity resolver", 2, 20, 30),
        Hop("profile agent", 2, 20, 30),
        Hop("emit to the bench's reader", 2, 10, 20),
    ]


def test_a_probe_is_followed_from_its_event_through_both_bundles_to_its_profile(
    settings: Settings,
) -> None:
    codec = make_codec(None)
    cluster = Cluster(settings.bootstrap_servers, embedded=True, run_id="hops-test")
    probe, other = f"{probe_prefix(cluster)}000001", "someone-else"
    ensure_topics(
        settings,
        [CATALOG[PROBE_TOPIC], CATALOG[PROFILES], Topic(IDENTITY_EVENTS, 1), Topic(PROFILE_EVENTS)],
    )
    seen = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    profile = Profile("anon-1", first_seen_at=seen, last_seen_at=seen, updated_at=seen)
    add_identifiers(profile.identities, [key for key in [identity_key("session", probe)] if key])
    bundle = encode_bundle(
        [
            (None, ForwardedEvent(PROBE_TOPIC, 0, 0, other.encode(), b"x", {})),
            (None, ForwardedEvent(PROBE_TOPIC, 0, 1, probe.encode(), b"x", {})),
        ]
    )
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    for topic, key, value, at in [
        (PROBE_TOPIC, probe.encode(), b"view", 1_000),
        (IDENTITY_EVENTS, None, bundle, 1_040),
        (PROFILE_EVENTS, b"anon-1", bundle, 1_090),
        (PROFILES, b"anon-1", codec.encode(PROFILES, profile.to_record()), 1_160),
    ]:
        producer.produce(topic, key=key, value=value, timestamp=at)
    assert producer.flush(10) == 0

    run = LatencyRun(400, 400.0, probes=1, by_probe={probe: 215.0})
    moments = probe_moments(cluster, codec, run)

    assert moments == {probe: dict(zip(STAGES, [1_000, 1_040, 1_090, 1_160, 1_215], strict=True))}
