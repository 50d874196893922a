"""A Faust worker on the lean consume path that reports which changelog partitions it fetches.

For every record of the source it counts the record in a table and then sends the sink the
record's offset and the partitions of the table's changelog that aiokafka is set to fetch:
assigned to the worker and not paused. Faust reads the changelog of its own table only to
recover it, so once the table is recovered none should be fetched. Run as ``python -m
tests.streams.paused_fetch_app BOOTSTRAP SOURCE SINK GROUP kafka|embedded``.
"""

from __future__ import annotations

import json
import sys

import aiokafka
import faust

from tests.streams.lean_app import lean_app

TABLE = "counted"


def fetched_changelogs(app: faust.App) -> list[str]:
    """The partitions of the table's changelog that the worker's aiokafka consumer fetches."""
    thread = app.consumer._thread  # type: ignore[attr-defined] # Faust names no public way
    consumer: aiokafka.AIOKafkaConsumer = thread._consumer
    changelog = app.tables[TABLE].changelog_topic.get_topic_name()
    fetched = consumer.assignment() - consumer.paused()
    return sorted(f"{tp.topic}:{tp.partition}" for tp in fetched if tp.topic == changelog)


def paused_fetch_app(bootstrap: str, source: str, sink: str, group: str, path: str) -> faust.App:
    """A worker counting the records of ``source`` and reporting to ``sink`` (see the module)."""
    app = lean_app(group, bootstrap, path)
    source_topic = app.topic(source, key_serializer="raw", value_serializer="raw")
    sink_topic = app.topic(sink, key_serializer="raw", value_serializer="raw")
    counted = app.Table(TABLE, default=int, partitions=1)

    @app.agent(source_topic, name="count")
    async def count(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            counted["records"] += 1
            report = {"offset": event.message.offset, "fetched": fetched_changelogs(app)}
            await sink_topic.send(value=json.dumps(report).encode())

    return app


def main() -> None:
    """Run the worker in the foreground until SIGTERM."""
    app = paused_fetch_app(*sys.argv[1:6])
    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
