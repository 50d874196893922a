"""Where a probe's time goes: when it left each hop of the worker, read back from the topics.

A probe of the latency scenario (:mod:`tests.bench.latency`) takes three hops through the
worker: the intake bundles it for the identity resolver, the resolver bundles it for its
profile's partition, and the profile agent emits the profile that names it. A record's
timestamp is when its sender handed it to the producer, so the differences between the
records that carried a probe are the time each hop took, with the fetch that brought the
probe, the producer's linger and the worker's queue. The last hop runs until the bench read
the profile.

    .venv/bin/python -m tests.bench.hops [--rate 400] [--seconds 20]
"""

from __future__ import annotations

import argparse
import itertools
import pathlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import Message

from schemas.codec import Codec, make_codec
from streams.bundles import BundleError, decode_bundle
from streams.identity_agent import IDENTITY_EVENTS, PROFILE_EVENTS
from tests.bench.cluster import Cluster, fresh_cluster, read_all
from tests.bench.latency import (
    PROBE_TOPIC,
    PROFILES,
    LatencyRun,
    nearest_rank,
    probe_prefix,
    profile_sessions,
    run_latency,
)
from tests.bench.preload import build_mix
from tests.bench.tally import Spotter

STAGES = ("sent", "bundled for the resolver", "bundled for its profile", "emitted", "read")
"""The moments a probe passes, in order; a hop runs from one to the next."""
HOPS = ("intake", "identity resolver", "profile agent", "emit to the bench's reader")
"""What runs between two stages: the hop from each stage to the next."""

Moments = dict[str, dict[str, float]]
"""Per probe, the moment (epoch ms) it reached each stage."""


@dataclass(frozen=True)
class Hop:
    """How long the probes took from one stage to the next, in milliseconds."""

    name: str
    probes: int
    p50_ms: float
    p99_ms: float


def hops(moments: Mapping[str, Mapping[str, float]]) -> list[Hop]:
    """Each hop's percentiles over the probes seen at every stage."""
    complete = [stages for stages in moments.values() if all(s in stages for s in STAGES)]
    found = []
    for name, (start, end) in zip(HOPS, itertools.pairwise(STAGES), strict=True):
        took = sorted(stages[end] - stages[start] for stages in complete)
        p50, p99 = nearest_rank(took, 0.5), nearest_rank(took, 0.99)
        if p50 is not None and p99 is not None:
            found.append(Hop(name, len(took), p50, p99))
    return found


def probe_moments(cluster: Cluster, codec: Codec, run: LatencyRun) -> Moments:
    """Read back from the topics of ``cluster`` when each probe of ``run`` reached each stage."""
    prefix = probe_prefix(cluster)
    moments: Moments = {}

    def mark(stage: str, topic: str, spot: Spotter) -> None:
        for message in read_all(cluster, topic):
            for probe in spot(message):
                if probe.startswith(prefix):
                    moments.setdefault(probe, {}).setdefault(stage, message.timestamp()[1])

    mark(STAGES[0], PROBE_TOPIC, _key)
    mark(STAGES[1], IDENTITY_EVENTS, _bundled_keys)
    mark(STAGES[2], PROFILE_EVENTS, _bundled_keys)
    mark(STAGES[3], PROFILES, profile_sessions(codec, prefix))
    for probe, latency in run.by_probe.items():
        sent = moments.get(probe, {}).get(STAGES[0])
        if sent is not None:
            moments[probe][STAGES[4]] = sent + latency
    return moments


def _key(message: Message) -> list[str]:
    key = message.key()
    return [key.decode()] if key else []


def _bundled_keys(message: Message) -> list[str]:
    try:
        bundled = decode_bundle(message.value() or b"")
    except BundleError:  # a record that carries one event, e.g. a merge command
        return []
    return [event.key.decode() for _, event in bundled if event.key]


def main() -> None:
    """Run the latency scenario once and print each hop's percentiles."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.hops", description=__doc__)
    parser.add_argument("--rate", type=int, default=400, help="offered events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    codec = make_codec(None)
    mix = build_mix(int(args.rate * args.seconds) + 1, args.seed, codec)
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="bench-hops-"))
    with fresh_cluster(log_dir) as cluster:
        run = run_latency(cluster, mix, codec, args.rate, args.seconds, log_dir)
        found = hops(probe_moments(cluster, codec, run))
    print(f"{args.rate} events/s, {args.seconds:g} s: {run.probes} probes, {run.missing} missing")
    for hop in found:
        print(_row(hop.name, hop.p50_ms, hop.p99_ms) + f"  ({hop.probes} probes)")
    print(_row("end to end", run.percentile(0.5), run.percentile(0.99)))


def _row(name: str, p50_ms: float | None, p99_ms: float | None) -> str:
    def shown(ms: float | None) -> str:
        return "never" if ms is None else f"{ms:.0f} ms"

    return f"{name:28} p50 {shown(p50_ms):>8}  p99 {shown(p99_ms):>8}"


if __name__ == "__main__":
    main()
