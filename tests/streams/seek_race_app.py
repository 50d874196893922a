"""A Faust worker on the lean consume path whose seeks to the committed offsets are slow.

When streams resume after a rebalance, Faust seeks to the committed offsets in the consumer's
thread and resets its read offsets after that, while fetching goes on. A slow seek widens that
window from microseconds to :data:`SEEK_DELAY`, so a test meets the race on every run, not
now and then as the crash drill did. The agent works slowly, so fetched records are still
buffered when the resume clears the stream buffers. Its table makes a restarted worker
recover, which starts fetching before streams resume. Run as ``python -m
tests.streams.seek_race_app BOOTSTRAP SOURCE SINK GROUP kafka|embedded [COMMIT_SECONDS
[RESUME_AFTER [earliest|latest]]]``; it forwards each record's offset, as text, to the sink,
and commits every ``COMMIT_SECONDS`` (Faust's 2.8 s when not given). With ``RESUME_AFTER``,
once it forwarded the record at that offset it ends a rebalance as Faust does: it seeks to the
committed offsets and resumes the flow, which clears the records fetched but not yet
processed. The last argument is the reset policy of partitions without a committed offset
(Faust's ``earliest`` when not given).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

import faust
from faust.types import TP

from streams.lean_consumer import (
    LeanConsumer,
    LeanEmbeddedConsumer,
    LeanEmbeddedTransport,
    LeanTransport,
)
from tests.streams.lean_app import lean_app

SEEK_DELAY = 1.0
"""Seconds between the seek in the consumer's thread and Faust's reset of its read offsets."""
WORK_PER_RECORD = 0.005
"""Seconds the agent spends on each record."""
COMMIT_SECONDS = 2.8
"""Faust's commit interval."""


class SlowSeekConsumer(LeanConsumer):
    """The lean consumer, with fetching going on for a while after every seek."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        offsets = await super().seek_to_committed()
        await asyncio.sleep(SEEK_DELAY)
        return offsets


class SlowSeekEmbeddedConsumer(SlowSeekConsumer, LeanEmbeddedConsumer):
    """:class:`SlowSeekConsumer` fetching as the embedded broker needs."""


class SlowSeekTransport(LeanTransport):
    """The lean transport with :class:`SlowSeekConsumer`."""

    Consumer = SlowSeekConsumer


class SlowSeekEmbeddedTransport(LeanEmbeddedTransport):
    """The lean embedded transport with :class:`SlowSeekEmbeddedConsumer`."""

    Consumer = SlowSeekEmbeddedConsumer


TRANSPORTS = {"kafka": SlowSeekTransport, "embedded": SlowSeekEmbeddedTransport}
"""The consume paths of the worker: on Apache Kafka and on the embedded broker."""


def seek_race_app(
    bootstrap: str,
    source: str,
    sink: str,
    group: str,
    path: str,
    commit_seconds: float,
    resume_after: int | None,
    reset: str,
) -> faust.App:
    """A worker forwarding the offset of every record of ``source`` to ``sink``, slowly.

    ``path`` names the consume path, a key of :data:`TRANSPORTS`; ``reset`` the reset policy.
    """
    app = lean_app(
        group,
        bootstrap,
        path,
        broker_commit_interval=commit_seconds,
        consumer_auto_offset_reset=reset,
    )
    app.transport = TRANSPORTS[path](app.conf.broker_consumer, app)  # the same, slow to seek
    source_topic = app.topic(source, key_serializer="raw", value_serializer="raw")
    sink_topic = app.topic(sink, key_serializer="raw", value_serializer="raw")
    forwarded = app.Table("forwarded", default=int, partitions=1)

    @app.agent(source_topic, name="forward")
    async def forward(stream: faust.StreamT[bytes]) -> None:
        resumed = False
        async for event in stream.events():
            await asyncio.sleep(WORK_PER_RECORD)
            await sink_topic.send(value=str(event.message.offset).encode())
            forwarded["records"] += 1
            if event.message.offset == resume_after and not resumed:
                resumed = True
                await app.consumer.perform_seek()
                app.flow_control.resume()

    return app


def main() -> None:
    """Run the worker in the foreground until SIGTERM."""
    bootstrap, source, sink, group, path = sys.argv[1:6]
    commit_seconds = float(sys.argv[6]) if len(sys.argv) > 6 else COMMIT_SECONDS
    resume_after = int(sys.argv[7]) if len(sys.argv) > 7 else None
    reset = sys.argv[8] if len(sys.argv) > 8 else "earliest"
    app = seek_race_app(bootstrap, source, sink, group, path, commit_seconds, resume_after, reset)
    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
