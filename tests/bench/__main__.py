"""`python -m tests.bench` (`make bench`): every scenario in one run, then the summary line.

Each scenario runs on its own fresh embedded broker unless KAFKA_BOOTSTRAP_SERVERS names a
Kafka; the figures of one run share the machine's load, so compare ratios, not numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from rich.console import Console

from schemas.codec import make_codec
from streams.rules import load_rules
from streams.settings import Settings
from tests.bench.cluster import create_topics, fresh_cluster, send_all
from tests.bench.connector import run_crm_connector
from tests.bench.domain_ceiling import run_domain_ceiling
from tests.bench.faust_passthrough import run_faust_passthrough
from tests.bench.hops import hops, probe_moments
from tests.bench.latency import run_latency, sustainable_rate
from tests.bench.pipeline import run_pipeline
from tests.bench.preload import build_mix, topic_shares
from tests.bench.processes import Profiler
from tests.bench.raw_passthrough import run_raw_passthrough
from tests.bench.report import BenchResult, render_table, summary_line
from tests.bench.state_size import profile_state

_T = TypeVar("_T")
PIPELINE_TIMEOUT = 120.0
CONNECTOR_TIMEOUT = 60.0
NO_STANDBY = {"JOURNEYHUB_STANDBY_REPLICAS": "0"}
"""Two workers without a standby copy of each other's tables: what the copies cost."""


def parse_args() -> argparse.Namespace:
    """The benchmark's options; the defaults finish in a few minutes on two cores."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events of the mix")
    parser.add_argument(
        "--faust-events", type=int, default=20_000, help="events each Faust agent forwards"
    )
    parser.add_argument(
        "--pipeline-events", type=int, default=20_000, help="events the workers get preloaded"
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
            "on KAFKA_BOOTSTRAP_SERVERS the pipeline runs share the contract topics and the "
            "journeyhub consumer group: use a Kafka that holds no other journeyhub data"
        )

    with console.status("(a) raw aiokafka and (b) Faust passthrough"):
        with fresh_cluster(log_dir) as cluster:
            names = ("bench.in", "bench.raw.out", "bench.faust.out", "bench.lean.out")
            source, raw_sink, faust_sink, lean_sink = (cluster.topic(name) for name in names)
            create_topics(cluster, [source, raw_sink, faust_sink, lean_sink])
            send_all(cluster, mix, source)
            result.raw = attempt(
                result, "raw passthrough",
                lambda: run_raw_passthrough(cluster, source, raw_sink, len(mix)),
            )  # fmt: skip
            faust_events = min(args.faust_events, len(mix))
            result.faust = attempt(
                result, "stock Faust passthrough",
                lambda: run_faust_passthrough(
                    cluster, source, faust_sink, faust_events, log_dir / "faust.log"
                ),
            )  # fmt: skip
            result.lean_faust = attempt(
                result, "Faust passthrough on our consume and publish paths",
                lambda: run_faust_passthrough(
                    cluster, source, lean_sink, faust_events, log_dir / "faust-lean.log", lean=True
                ),
            )  # fmt: skip

    profiler = Profiler(log_dir / "worker-profile.svg") if args.profile else None
    pipeline_mix = mix[: args.pipeline_events]
    with console.status("(c) domain code alone"):
        rules = load_rules(settings.rules_path)
        result.domain = attempt(
            result, "domain code alone", lambda: run_domain_ceiling(pipeline_mix, codec, rules)
        )
    with console.status("(c) pipeline with one worker, then (e) CRM connector"):
        with fresh_cluster(log_dir) as cluster:
            result.one_worker = attempt(
                result, "pipeline with one worker",
                lambda: run_pipeline(cluster, pipeline_mix, 1, log_dir, PIPELINE_TIMEOUT, profiler),
            )  # fmt: skip
            if result.one_worker is not None:
                result.profile_state = attempt(
                    result, "profile state", lambda: profile_state(cluster)
                )
                result.connector = attempt(
                    result, "CRM connector",
                    lambda: run_crm_connector(cluster, log_dir, CONNECTOR_TIMEOUT),
                )  # fmt: skip
    with console.status("(d) pipeline with two workers"):
        with fresh_cluster(log_dir) as cluster:
            result.two_workers = attempt(
                result, "pipeline with two workers",
                lambda: run_pipeline(cluster, pipeline_mix, 2, log_dir, PIPELINE_TIMEOUT),
            )  # fmt: skip
    with console.status("(d) pipeline with two workers, no standby copies"):
        with fresh_cluster(log_dir) as cluster:
            result.two_workers_no_standby = attempt(
                result, "pipeline with two workers, no standby copies",
                lambda: run_pipeline(
                    cluster, pipeline_mix, 2, log_dir, PIPELINE_TIMEOUT, settings=NO_STANDBY
                ),
            )  # fmt: skip
    with console.status(f"(c) latency at {args.rate:,} events/s"):
        with fresh_cluster(log_dir) as cluster:
            result.latency = attempt(
                result, "latency",
                lambda: run_latency(
                    cluster, mix, codec, args.rate, args.latency_seconds, log_dir
                ),
            )  # fmt: skip

    sustained = sustainable_rate(result.pipeline_eps)
    if sustained:
        with console.status(f"(c) latency at {sustained:,} events/s, half one worker's rate"):
            with fresh_cluster(log_dir) as cluster:
                result.sustained_latency = run = attempt(
                    result, "latency at a sustained load",
                    lambda: run_latency(
                        cluster, mix, codec, sustained, args.latency_seconds, log_dir
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
