"""`python -m tests.bench.pairs OLD NEW`: the pipeline of two revisions, in alternating pairs.

The machine swings by a third between runs, so two revisions are compared run against run,
alternating, on the same events, each pair in the other order than the one before. Each run
gives its events per second and its workers' CPU per event. A worker starts as
``python -m streams.cli``, which imports journeyhub from its working directory, not from
``PYTHONPATH``: each revision is therefore exported into a directory of its own and run from
there, or both arms would run the same code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ONE_RUN = """
import pathlib, sys
from schemas.codec import make_codec
from tests.bench.cluster import fresh_cluster
from tests.bench.pipeline import run_pipeline
from tests.bench.preload import build_mix
events, workers, seed = (int(arg) for arg in sys.argv[1:4])
mix = build_mix(events, seed, make_codec(None))
log_dir = pathlib.Path("logs")  # in the exported tree, removed with it
with fresh_cluster(log_dir) as cluster:
    run = run_pipeline(cluster, mix, workers, log_dir, 600)
print(f"{run.throughput.eps} {run.cpu.workers}" if run.complete else "incomplete")
"""
"""One pipeline run, in the exported tree's own code (any revision with ``tests.bench``)."""


def export(revision: str, into: Path) -> Path:
    """Write the files of ``revision`` into a new directory below ``into``; return it."""
    tree = Path(tempfile.mkdtemp(prefix=f"{revision[:12]}-", dir=into))
    archive = subprocess.run(
        ["git", "archive", revision], cwd=REPO_ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def one_run(tree: Path, events: int, workers: int, seed: int) -> tuple[float, float]:
    """Events per second, and microseconds of worker CPU per event, of one pipeline run.

    The run is of the code in ``tree``.

    Raises:
        RuntimeError: The run failed or did not finish in time.
    """
    result = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(events), str(workers), str(seed)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    last_line = result.stdout.strip().rpartition("\n")[2]
    if result.returncode != 0 or last_line == "incomplete":
        msg = f"run of {tree.name} failed: {last_line or result.stderr[-500:]}"
        raise RuntimeError(msg)
    eps, cpu_us = last_line.split()
    return float(eps), float(cpu_us)


def main() -> None:
    """Run the pairs and print each, then the means and their ratios."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.pairs", description=__doc__)
    parser.add_argument("old", help="git revision of the baseline")
    parser.add_argument("new", help="git revision to compare with it")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--events", type=int, default=8_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pairs-") as workdir:
        trees = [export(revision, Path(workdir)) for revision in (args.old, args.new)]
        runs: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
        for pair in range(1, args.pairs + 1):
            order = (0, 1) if pair % 2 else (1, 0)
            for arm in order:
                runs[arm].append(one_run(trees[arm], args.events, args.workers, args.seed))
            (old_eps, old_cpu), (new_eps, new_cpu) = runs[0][-1], runs[1][-1]
            print(
                f"pair {pair}: {args.old} {old_eps:.0f} events/s at {old_cpu:.0f} µs, "
                f"{args.new} {new_eps:.0f} events/s at {new_cpu:.0f} µs"
            )
    (old_eps, old_cpu), (new_eps, new_cpu) = (
        tuple(statistics.mean(column) for column in zip(*arm, strict=True)) for arm in runs
    )
    print(
        f"pairs: old_eps={old_eps:.0f} new_eps={new_eps:.0f} ratio={new_eps / old_eps:.2f} "
        f"old_cpu_us={old_cpu:.0f} new_cpu_us={new_cpu:.0f} cpu_ratio={new_cpu / old_cpu:.2f}"
    )


if __name__ == "__main__":
    main()
