"""`python -m tests.bench.pairs OLD NEW`: the pipeline of two revisions, in alternating pairs.

The machine swings by a third between runs, so two revisions are compared run against run,
alternating, on the same events. A worker starts as ``python -m streams.cli``, which imports
journeyhub from its working directory, not from ``PYTHONPATH``: each revision is therefore
exported into a directory of its own and run from there, or both arms would run the same
code.
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
print(run.throughput.eps if run.complete else "incomplete")
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


def one_run(tree: Path, events: int, workers: int, seed: int) -> float:
    """Events per second of one pipeline run of the code in ``tree``.

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
    return float(last_line)


def main() -> None:
    """Run the pairs and print each, then the means and their ratio."""
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
        rates: tuple[list[float], list[float]] = ([], [])
        for pair in range(1, args.pairs + 1):
            for tree, arm in zip(trees, rates, strict=True):
                arm.append(one_run(tree, args.events, args.workers, args.seed))
            print(f"pair {pair}: {args.old} {rates[0][-1]:.0f}, {args.new} {rates[1][-1]:.0f}")
    old, new = (statistics.mean(arm) for arm in rates)
    print(f"pairs: old_eps={old:.0f} new_eps={new:.0f} ratio={new / old:.2f}")


if __name__ == "__main__":
    main()
