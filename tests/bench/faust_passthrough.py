"""Scenario (b): the baseline, a stock Faust agent that forwards one event at a time.

Beside it the same agent on journeyhub's consume path (the lean consumer, batches), so the
gain of the consume path shows apart from what the domain agents cost. Run as
``python -m tests.bench.faust_passthrough BOOTSTRAP SOURCE SINK [stock|lean]`` it is the
worker; :func:`run_faust_passthrough` starts it in a subprocess and times it from outside.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import faust

from streams.kafka import is_embedded_broker
from streams.lean_consumer import use_lean_consume_path
from streams.lean_topic import LeanTopic
from streams.settings import EMBEDDED_SESSION_TIMEOUT, Settings
from tests.bench.cluster import Cluster
from tests.bench.measure import Throughput, throughput, watch
from tests.bench.tally import TopicTally
from tests.workertools import stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_LEVEL = "info"
"""The passthrough worker's log level, the journeyhub worker's default.

At ``warn`` and above Faust's worker sets the root logger to DEBUG for its terminal spinner and
keeps it there, so every debug message of Faust and aiokafka is built and handled (findCaller,
a record, the handlers: some 7 % of a passthrough's samples) though none is written; at
``info`` it has no spinner, and the passthroughs measure Faust, not its spinner.
"""
INTAKE_BATCH = 1000
INTAKE_BATCH_SECONDS = 0.01
"""Batches of the lean variant: up to this many records, waiting at most this long."""


def passthrough_app(bootstrap: str, source: str, sink: str, *, lean: bool) -> faust.App:
    """A minimal Faust app on Faust's defaults: only broker and session timeout are set.

    The web server is off so it never collides with a running worker's port; Faust's
    consume path does not depend on it. With ``lean`` it consumes and publishes as the
    journeyhub worker does: through the lean consume path, in batches like the intake's, to
    lean topics.
    """
    app = faust.App(
        f"bench-faust-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        broker_session_timeout=EMBEDDED_SESSION_TIMEOUT,
        broker_heartbeat_interval=EMBEDDED_SESSION_TIMEOUT / 3,
        web_enabled=False,
        Topic=LeanTopic if lean else faust.Topic,
    )
    if lean:
        settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": bootstrap})
        use_lean_consume_path(app, embedded_broker=is_embedded_broker(settings))
    source_topic = app.topic(source, key_serializer="raw", value_serializer="raw")
    sink_topic = app.topic(sink, key_serializer="raw", value_serializer="raw")

    async def forward(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for key, value in stream.items():
            await sink_topic.send(key=key, value=value)
            yield None

    async def forward_batches(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        batches = cast("faust.Stream[bytes]", stream).take_events
        async for events in batches(INTAKE_BATCH, within=INTAKE_BATCH_SECONDS):
            for event in events:
                await sink_topic.send(key=event.key, value=event.value)
            yield None

    app.agent(source_topic, name="forward")(forward_batches if lean else forward)
    return app


def run_faust_passthrough(
    cluster: Cluster,
    source: str,
    sink: str,
    count: int,
    log_path: Path,
    *,
    lean: bool = False,
    timeout: float = 300,
) -> Throughput:
    """Forward ``count`` preloaded records with a Faust worker and time it.

    The rate is read on the sink topic: from the first sample that saw a forwarded record
    to the one that saw all of them.
    """
    with (
        TopicTally(cluster, [sink]) as tally,
        tempfile.TemporaryDirectory(prefix="bench-faust-") as workdir,
        log_path.open("ab") as log,
    ):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.faust_passthrough",
                cluster.bootstrap,
                source,
                sink,
                "lean" if lean else "stock",
            ],
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            series = watch(tally.count, count, timeout, "Faust passthrough")
        finally:
            stop_process(process)
    done = series.reached_at(count)
    return throughput(series, done if done is not None else series.samples[-1][0])


def main() -> None:
    """Run the passthrough worker in the foreground until SIGTERM."""
    bootstrap, source, sink, mode = sys.argv[1:5]
    app = passthrough_app(bootstrap, source, sink, lean=mode == "lean")
    passthrough_worker(app).execute_from_commandline()


def passthrough_worker(app: faust.App) -> faust.Worker:
    """The worker that runs a passthrough app, logging at :data:`LOG_LEVEL`."""
    return faust.Worker(app, loglevel=LOG_LEVEL, quiet=True)


if __name__ == "__main__":
    main()
