"""Moving records between people and topics: JSON lines in (produce), decoded records out (tail).

Produce is all-or-nothing: every line is converted and validated before the first record is
sent, so a bad line in a file never leaves half of it on the topic.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from schemas.catalog import get_topic, origin_of_dlq, record_key
from schemas.codec import Codec
from schemas.errors import SchemaError
from schemas.jsonconv import json_to_record, record_to_json
from streams.errors import BrokerError, JourneyhubError
from streams.kafka import (
    consumer_config,
    end_offsets,
    message_headers,
    message_position,
    producer_config,
)
from streams.settings import Settings


class InputLineError(JourneyhubError):
    """A line of a produce file does not fit the topic's schema."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number


@dataclass(frozen=True)
class EncodedRecord:
    """A record ready to send: its key and its encoded value."""

    key: str
    value: bytes


def encode_lines(topic: str, lines: Iterable[str], codec: Codec) -> list[EncodedRecord]:
    """Convert JSON lines to encoded records, failing on the first line that does not fit."""
    spec = get_topic(topic)
    encoded: list[EncodedRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise InputLineError(number, "expected a JSON object")
            record = json_to_record(topic, obj)
            encoded.append(EncodedRecord(record_key(spec, record), codec.encode(topic, record)))
        except json.JSONDecodeError as error:
            raise InputLineError(number, f"not valid JSON ({error.msg})") from error
        except SchemaError as error:
            raise InputLineError(number, str(error)) from error
    return encoded


def send_records(settings: Settings, topic: str, records: list[EncodedRecord]) -> None:
    """Send records and wait until the broker acknowledged every one of them."""
    failures: list[str] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer(producer_config(settings))
    for record in records:
        producer.produce(topic, key=record.key, value=record.value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        reason = failures[0] if failures else f"{remaining} records unconfirmed after 30 s"
        msg = f"sending to {topic} failed: {reason}"
        raise BrokerError(msg)


@dataclass(frozen=True)
class TailedMessage:
    """One consumed message, decoded for people and scripts."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: Any
    headers: dict[str, str]

    def to_json(self) -> str:
        """Render the message as the one-line JSON object of the tail contract."""
        return json.dumps(
            {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "key": self.key,
                "value": self.value,
                "headers": self.headers,
            },
            ensure_ascii=False,
        )


def _text_or_base64(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def decode_message(topic: str, value: bytes | None, codec: Codec) -> Any:
    """Decode a value for display; dead letters and undecodable values stay visible as text."""
    if value is None:
        return None
    if origin_of_dlq(topic) is not None:
        return _text_or_base64(value)
    try:
        return record_to_json(topic, codec.decode(topic, value))
    except SchemaError as error:
        return {"undecodable": _text_or_base64(value), "error": str(error)}


def tail(
    settings: Settings,
    topic: str,
    codec: Codec,
    *,
    from_beginning: bool,
    max_messages: int | None,
    idle_timeout: float | None,
    keys: frozenset[str] = frozenset(),
) -> Iterator[TailedMessage]:
    """Yield messages of a topic until ``max_messages`` or ``idle_timeout`` seconds of silence.

    With ``keys``, only messages with one of those keys count and are yielded.
    """
    consumer = Consumer(consumer_config(settings, group_id="journeyhub-tail"))
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        topic_metadata = metadata.topics.get(topic)
        if topic_metadata is None or topic_metadata.error is not None:
            msg = f"topic {topic} does not exist; see `journeyhub topics`"
            raise BrokerError(msg)
        partitions = sorted(topic_metadata.partitions)
        starts = (
            dict.fromkeys(partitions, OFFSET_BEGINNING)
            if from_beginning
            else end_offsets(consumer, topic, partitions)
        )
        consumer.assign([KafkaTopicPartition(topic, p, starts[p]) for p in partitions])
        yielded = 0
        last_seen = time.monotonic()
        while max_messages is None or yielded < max_messages:
            message = consumer.poll(0.2)
            if message is None:
                if idle_timeout is not None and time.monotonic() - last_seen >= idle_timeout:
                    return
                continue
            if message.error():
                msg = f"reading {topic} failed: {message.error()}"
                raise BrokerError(msg)
            last_seen = time.monotonic()
            raw_key = message.key()
            key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
            if keys and key not in keys:
                continue
            yielded += 1
            partition, offset = message_position(message)
            yield TailedMessage(
                topic=topic,
                partition=partition,
                offset=offset,
                key=key,
                value=decode_message(topic, message.value(), codec),
                headers={k: _text_or_base64(v) for k, v in message_headers(message)},
            )
    except KafkaException as error:
        msg = f"reading {topic} failed: {error}"
        raise BrokerError(msg) from error
    finally:
        consumer.close()


def read_lines(stream: TextIO) -> list[str]:
    """Read a whole input so nothing is sent before every line was checked."""
    return stream.read().splitlines()
