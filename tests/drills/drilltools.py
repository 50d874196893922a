"""What the drills do to a running stack: start and kill processes, write and read topics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from schemas.codec import Codec
from streams.kafka import consumer_config, end_offsets, message_headers, producer_config
from streams.settings import Settings
from streams.workload import WorkloadEvent
from tests.workertools import http_get, stop_process, wait_for

READY_TIMEOUT = 120.0


@dataclass
class Component:
    """One journeyhub process (``streams.cli`` arguments or a module) with its own log file."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exits: list[int] = field(default_factory=list)

    @classmethod
    def cli(cls, env: dict[str, str], name: str, *args: str) -> Component:
        """A ``journeyhub`` subcommand logging to ``<data dir>/logs/<name>.log``."""
        log_path = Path(env["JOURNEYHUB_DATA_DIR"]) / "logs" / f"{name}.log"
        return cls([sys.executable, "-m", "streams.cli", *args], env, log_path)

    @classmethod
    def module(cls, env: dict[str, str], name: str, module: str, *args: str) -> Component:
        """A module of ours run with ``python -m``."""
        log_path = Path(env["JOURNEYHUB_DATA_DIR"]) / "logs" / f"{name}.log"
        return cls([sys.executable, "-m", module, *args], env, log_path)

    def start(self) -> Component:
        """Start the process, appending its output to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        return self

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is committed or flushed."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL after 20 s."""
        self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> None:
        if self.process is None:
            return
        stop_process(self.process, how=how)
        self.exits.append(self.process.returncode)
        self.process = None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the log, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def worker(env: dict[str, str], base_url: str | None = None) -> Component:
    """Start ``journeyhub worker`` and wait until its /healthz answers ok."""
    component = Component.cli(env, "worker", "worker").start()
    wait_until_healthy(component, base_url or worker_url(env))
    return component


def wait_until_healthy(component: Component, base_url: str) -> None:
    """Wait for ``/healthz`` of a started worker, failing with its log when it dies."""
    wait_for(
        lambda: http_get(base_url + "/healthz")[0] == 200,
        READY_TIMEOUT,
        lambda: f"worker not healthy; log:\n{component.log_tail()}",
        component.process,
    )


def worker_url(env: dict[str, str]) -> str:
    """Base URL of the worker's HTTP API under ``env``."""
    return f"http://127.0.0.1:{env['JOURNEYHUB_WEB_PORT']}"


def produce_raw(settings: Settings, topic: str, records: Iterable[tuple[bytes, bytes]]) -> int:
    """Send key and value bytes as they are; return how many the broker acknowledged."""
    failures: list[str] = []
    producer = Producer(producer_config(settings))
    sent = 0
    for key, value in records:
        producer.produce(
            topic,
            key=key,
            value=value,
            on_delivery=lambda error, _m: failures.append(str(error)) if error else None,
        )
        producer.poll(0)
        sent += 1
    assert producer.flush(60) == 0, "records left unsent"
    assert not failures, failures[:3]
    return sent


def produce_workload(settings: Settings, codec: Codec, events: Iterable[WorkloadEvent]) -> int:
    """Send workload events in order (malformed ones as their raw bytes); return the count."""
    producer = Producer(producer_config(settings))
    sent = 0
    for event in events:
        value = event.raw if event.value is None else codec.encode(event.topic, event.value)
        producer.produce(event.topic, key=event.key.encode(), value=value)
        producer.poll(0)
        sent += 1
    assert producer.flush(60) == 0, "workload left unsent"
    return sent


def read_topic(settings: Settings, topic: str, timeout: float = 30) -> list[Message]:
    """Every message of a topic from the beginning up to its current end."""
    consumer = Consumer(consumer_config(settings, "drill-reader"))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        ends = end_offsets(consumer, topic, metadata.partitions)
        wanted = {p: end for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while wanted and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    messages.append(message)
                    partition, offset = message.partition(), message.offset()
                    if partition is not None and offset is not None:
                        if offset + 1 >= wanted.get(partition, 0):
                            wanted.pop(partition, None)
        assert not wanted, f"could not read {topic} to its end within {timeout:g} s"
        return messages
    finally:
        consumer.close()


def header(message: Message, name: str) -> str | None:
    """One header of a consumed message as text, None when absent."""
    for key, value in message_headers(message):
        if key == name:
            return value.decode()
    return None
