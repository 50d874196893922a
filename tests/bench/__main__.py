"""`python -m tests.bench` (`make bench`): every scenario in one run, then the summary line.

Each scenario runs on its own fresh embedded broker unless KAFKA_BOOTSTRAP_SERVERS names a
Kafka; the figures of one run share the machine's load, so compare ratios, not numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from schemas.codec import make_codec
from streams.rules import load_rules
from streams.settings import Settings
from tests.bench.cluster import Cluster, create_topics, fresh_cluster, send_all
from tests.bench.connector import run_crm_connector
from tests.bench.domain_ceiling import run_domain_ceiling
from tests.bench.faust_passthrough import run_faust_passthrough
from tests.bench.hops import hops, probe_moments
from tests.bench.latency import run_latency, sustainable_rate
from tests.bench.pipeline import run_pipeline
from tests.bench.preload import MixSupply, build_mix, topic_shares
from tests.bench.processes import Profiler
from tests.bench.raw_passthrough import run_raw_passthrough
from tests.bench.report import BenchResult, render_table, summary_line
from tests.bench.state_size import profile_state

_T = TypeVar("_T")
PIPELINE_TIMEOUT = 120.0
CONNECTOR_TIMEOUT = 60.0
WITH_STANDBY = {"JOURNEYHUB_STANDBY_REPLICAS": "1"}
"""Two workers with a standby copy of each other's tables (none by default in memory)."""
ROCKSDB = {"JOURNEYHUB_STATE": "rocksdb"}
"""One worker with its tables in RocksDB, the default store: what it costs against memory."""


def parse_args() -> argparse.Namespace:
    """The benchmark's options; the defaults finish in six to ten minutes on two cores."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events of the mix")
    parser.add_argument(
        "--faust-events", type=int, default=20_000, help="events each Faust agent forwards"
    )
    parser.add_argument(
        "--pipeline-events", type=int, default=20_000, help="events the workers get preloaded"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="rounds of the runs; each round runs every passthrough and pipeline arm once",
    )
    parser.add_argument("--rate", type=int, default=2_000, help="offered load for latency")
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", action="store_true", help="record a py-spy flame graph of the worker"
    )
    return parser.parse_args()


def attempt(result: BenchResult, what: str, run: Callable[[], _T]) -> _T | None:
    """Run one scenario; a failure becomes a note and the other scenarios still run."""
    try:
        return run()
    except Exception as error:  # any failure of one scenario is reported, not fatal
        result.notes.append(f"{what} failed: {error}")
        return None


def run_passthrough_round(
    result: BenchResult,
    cluster: Cluster,
    source: str,
    counts: tuple[int, int],
    log_dir: Path,
    round_index: int,
) -> None:
    """One round of the passthroughs of ``source``: raw, stock Faust, Faust on our paths.

    Each forwards into topics of its own round, in a consumer group of its own; ``counts``
    are the records the raw and each Faust passthrough forward.
    """
    raw_events, faust_events = counts
    names = (f"bench.{arm}.out.{round_index}" for arm in ("raw", "faust", "lean"))
    raw_sink, faust_sink, lean_sink = (cluster.topic(name) for name in names)
    create_topics(cluster, [raw_sink, faust_sink, lean_sink])
    raw = attempt(
        result, "raw passthrough",
        lambda: run_raw_passthrough(cluster, source, raw_sink, raw_events),
    )  # fmt: skip
    stock = attempt(
        result, "stock Faust passthrough",
        lambda: run_faust_passthrough(
            cluster, source, faust_sink, faust_events, log_dir / "faust.log"
        ),
    )  # fmt: skip
    lean = attempt(
        result, "Faust passthrough on our consume and publish paths",
        lambda: run_faust_passthrough(
            cluster, source, lean_sink, faust_events, log_dir / "faust-lean.log", lean=True
        ),
    )  # fmt: skip
    for runs, run in ((result.raw_runs, raw), (result.faust_runs, stock), (result.lean_runs, lean)):
        if run is not None:
            runs.append(run)


def run_pipeline_round(
    result: BenchResult,
    mixes: MixSupply,
    events: int,
    log_dir: Path,
    console: Console,
    round_index: int,
    profiler: Profiler | None,
) -> None:
    """One round of the pipeline runs: one worker, the same with its tables in RocksDB, two
    workers, two with a standby copy of each table (memory tables have none by default).

    The runs keep their tables in memory, as the tests do, unless ``JOURNEYHUB_STATE`` says
    otherwise; the second shows what the default store costs. The rounds alternate the four
    so that a slow spell of the machine, which lasts a run or two, hits each of them alike;
    the table and the ratios take each one's median run. The first round also profiles the
    worker (if asked), sizes the state and runs the connector. Each run preloads ``events``
    events from ``mixes``.
    """
    first = round_index == 0
    label = f"round {round_index + 1}: "
    with console.status(f"{label}(c) pipeline with one worker"):
        with fresh_cluster(log_dir) as cluster:
            mix = mixes.for_run(events, embedded=cluster.embedded)
            one = attempt(
                result, "pipeline with one worker",
                lambda: run_pipeline(
                    cluster, mix, 1, log_dir, PIPELINE_TIMEOUT, profiler if first else None
                ),
            )  # fmt: skip
            if one is not None:
                one = dataclasses.replace(one, round_index=round_index)
                result.one_worker_runs.append(one)
            if one is not None and first:
                result.profile_state = attempt(
                    result, "profile state", lambda: profile_state(cluster)
                )
                result.connector = attempt(
                    result, "CRM connector",
                    lambda: run_crm_connector(cluster, log_dir, CONNECTOR_TIMEOUT),
                )  # fmt: skip
    arms = (
        ("pipeline with one worker, tables in RocksDB", result.rocksdb_runs, 1, ROCKSDB),
        ("pipeline with two workers", result.two_worker_runs, 2, None),
        ("pipeline with two workers, standby copies", result.standby_runs, 2, WITH_STANDBY),
    )
    for what, runs, workers, settings in arms:
        scenario = "(c)" if workers == 1 else "(d)"
        with console.status(f"{label}{scenario} {what}"):
            with fresh_cluster(log_dir) as cluster:
                mix = mixes.for_run(events, embedded=cluster.embedded)
                run = attempt(
                    result,
                    what,
                    functools.partial(
                        run_pipeline,
                        cluster,
                        mix,
                        workers,
                        log_dir,
                        PIPELINE_TIMEOUT,
                        settings=settings,
                    ),
                )
                if run is not None:
                    runs.append(dataclasses.replace(run, round_index=round_index))


def main() -> None:
    """Run every scenario and print the table and the summary line."""
    args = parse_args()
    console = Console(width=None if sys.stdout.isatty() else 120)
    settings = Settings.from_env()
    log_dir = settings.data_dir / "bench" / time.strftime("%Y%m%d-%H%M%S")
    codec = make_codec(None)
    with console.status(f"generating and encoding {args.events:,} events"):
        mix = build_mix(args.events, args.seed, codec)
    shares = ", ".join(f"{topic} {count:,}" for topic, count in topic_shares(mix).items())
    console.print(f"mix: {shares}")
    result = BenchResult(events=len(mix))
    if not settings.uses_embedded_broker:
        result.notes.append(
            "on KAFKA_BOOTSTRAP_SERVERS the pipeline runs share the contract topics, tables and "
            "the journeyhub consumer group, so each preloads new people: use a Kafka that "
            "holds no other journeyhub data"
        )

    with console.status("(a) raw aiokafka and (b) Faust passthrough"):
        with fresh_cluster(log_dir) as cluster:
            source = cluster.topic("bench.in")
            create_topics(cluster, [source])
            send_all(cluster, mix, source)
            counts = (len(mix), min(args.faust_events, len(mix)))
            for round_index in range(args.repeats):
                run_passthrough_round(result, cluster, source, counts, log_dir, round_index)

    profiler = Profiler(log_dir / "worker-profile.svg") if args.profile else None
    pipeline_mix = mix[: args.pipeline_events]
    with console.status("(c) domain code alone"):
        rules = load_rules(settings.rules_path)
        result.domain = attempt(
            result, "domain code alone", lambda: run_domain_ceiling(pipeline_mix, codec, rules)
        )
    mixes = MixSupply(mix, args.seed, codec)
    for round_index in range(args.repeats):
        run_pipeline_round(
            result, mixes, args.pipeline_events, log_dir, console, round_index, profiler
        )
    offered = round(args.rate * args.latency_seconds)
    with console.status(f"(c) latency at {args.rate:,} events/s"):
        with fresh_cluster(log_dir) as cluster:
            result.latency = attempt(
                result, "latency",
                lambda: run_latency(
                    cluster, mixes.for_run(offered, embedded=cluster.embedded), codec,
                    args.rate, args.latency_seconds, log_dir,
                ),
            )  # fmt: skip

    sustained = sustainable_rate(result.pipeline_eps)
    if sustained:
        with console.status(f"(c) latency at {sustained:,} events/s, half one worker's rate"):
            with fresh_cluster(log_dir) as cluster:
                result.sustained_latency = run = attempt(
                    result, "latency at a sustained load",
                    lambda: run_latency(
                        cluster, mixes.for_run(offered, embedded=cluster.embedded), codec,
                        sustained, args.latency_seconds, log_dir,
                    ),
                )  # fmt: skip
                if run is not None:
                    result.sustained_hops = attempt(
                        result, "hops of the probes",
                        lambda: hops(probe_moments(cluster, codec, run)),
                    ) or []  # fmt: skip

    if profiler is not None:
        result.notes.append(f"worker flame graph: {profiler.output}")
    result.notes.append(
        "all figures come from this one run and share the machine's load: compare ratios"
    )
    result.notes.append(f"logs: {log_dir}")
    render_table(result, console)
    print(summary_line(result), flush=True)


if __name__ == "__main__":
    main()
