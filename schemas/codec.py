"""Avro codecs for topic values (CONTRACT §1).

Without a schema registry, values use Avro single-object encoding resolved against the
packaged schemas; with one, the Confluent wire format. Both validate on the way in and
resolve writer against reader schema on the way out, which is how schemas evolve.
"""

import functools
import io
import json
from collections.abc import Mapping
from typing import Any, Protocol, cast

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.catalog import CATALOG, get_topic
from schemas.errors import DecodeError, RegistryError
from schemas.validation import conform

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
"""First two bytes of an Avro single-object encoded value."""
CONFLUENT_MAGIC = b"\x00"
"""First byte of a value in the Confluent wire format."""

_FINGERPRINT_SIZE = 8
_SCHEMA_ID_SIZE = 4


@functools.cache
def schema_text(topic: str) -> str:
    """Return the packaged schema of a topic's values as compact JSON.

    Raises:
        UnknownTopicError: The topic is not in the catalog.
    """
    raw = get_topic(topic).schema_path.read_text(encoding="utf-8")
    return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))


@functools.cache
def load_schema(topic: str) -> dict[str, Any]:
    """Return the packaged schema of a topic's values, parsed by fastavro (cached).

    Raises:
        UnknownTopicError: The topic is not in the catalog.
    """
    return _parse(json.loads(schema_text(topic)))


def _parse(schema: Mapping[str, Any]) -> dict[str, Any]:
    return cast("dict[str, Any]", parse_schema(dict(schema)))


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """Return the 8-byte little-endian CRC-64-AVRO fingerprint of a parsed schema."""
    canonical = to_parsing_canonical_form(schema)
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


class Codec(Protocol):
    """Turns topic values into bytes and back."""

    def encode(self, topic: str, record: Mapping[str, Any]) -> bytes:
        """Validate a record against the topic's schema and encode it.

        Raises:
            EncodeError: The record does not fit; the message names the field path.
            UnknownTopicError: The topic is not in the catalog.
        """
        ...

    def decode(self, topic: str, data: bytes) -> dict[str, Any]:
        """Decode a value of the topic into a record of the topic's (reader) schema.

        Raises:
            DecodeError: The bytes are not a value this codec can read.
            UnknownTopicError: The topic is not in the catalog.
        """
        ...


class _ReaderSchemas:
    """The schema per topic a codec reads into and writes with: packaged or overridden."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> None:
        self._parsed: dict[str, dict[str, Any]] = {}
        self._text: dict[str, str] = {}
        for topic, schema in (overrides or {}).items():
            get_topic(topic)
            self._parsed[topic] = _parse(schema)
            self._text[topic] = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))

    def parsed(self, topic: str) -> dict[str, Any]:
        return self._parsed.get(topic) or load_schema(topic)

    def text(self, topic: str) -> str:
        return self._text.get(topic) or schema_text(topic)


def _write_body(schema: dict[str, Any], record: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, schema, conform(schema, record))
    return out.getvalue()


def _read_body(body: bytes, writer: dict[str, Any], reader: dict[str, Any]) -> dict[str, Any]:
    stream = io.BytesIO(body)
    try:
        record = cast("dict[str, Any]", schemaless_reader(stream, writer, reader))
    except EOFError:
        msg = "truncated value: the body ends before the record does"
        raise DecodeError(msg) from None
    except IndexError as error:  # fastavro's reading past the end, or a bad enum index
        msg = f"truncated or corrupt value body: {error}"
        raise DecodeError(msg) from None
    except SchemaResolutionError as error:
        msg = f"writer schema cannot be read as the reader schema: {error}"
        raise DecodeError(msg) from None
    except (UnicodeDecodeError, ValueError, OverflowError) as error:
        msg = f"corrupt value body: {error}"
        raise DecodeError(msg) from None
    left_over = len(body) - stream.tell()
    if left_over:
        msg = f"corrupt value body: {left_over} bytes left after the record"
        raise DecodeError(msg)
    return record


@functools.cache
def _packaged_fingerprints() -> dict[bytes, str]:
    return {schema_fingerprint(load_schema(topic)): topic for topic in CATALOG}


class SingleObjectCodec:
    """Avro single-object encoding: ``C3 01``, the writer schema's fingerprint, the body.

    A value is decoded with the writer schema its fingerprint names (the topic's current
    schema, this codec's override, or one registered with `register_writer_schema`) and
    resolved against the reader schema.
    """

    def __init__(self, reader_schemas: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Create a codec.

        Args:
            reader_schemas: Schema per topic to use instead of the packaged one, for reading
                and for writing (as a service on another schema version would).
        """
        self._schemas = _ReaderSchemas(reader_schemas)
        self._fingerprints: dict[str, bytes] = {}
        self._writers: dict[str, dict[bytes, dict[str, Any]]] = {}

    def register_writer_schema(self, topic: str, schema: Mapping[str, Any]) -> None:
        """Accept values of the topic written with another version of its schema.

        Raises:
            UnknownTopicError: The topic is not in the catalog.
        """
        parsed = _parse(schema)
        self._writers_of(topic)[schema_fingerprint(parsed)] = parsed

    def encode(self, topic: str, record: Mapping[str, Any]) -> bytes:
        """Validate a record against the topic's schema and encode it (see `Codec`)."""
        schema = self._schemas.parsed(topic)
        header = self._fingerprints.get(topic)
        if header is None:
            header = self._fingerprints[topic] = SINGLE_OBJECT_MAGIC + schema_fingerprint(schema)
        return header + _write_body(schema, record)

    def decode(self, topic: str, data: bytes) -> dict[str, Any]:
        """Decode a single-object encoded value of the topic (see `Codec`)."""
        header_size = len(SINGLE_OBJECT_MAGIC) + _FINGERPRINT_SIZE
        if not data.startswith(SINGLE_OBJECT_MAGIC):
            msg = f"not an Avro single-object value: starts with {data[:2].hex()!r}, not 'c301'"
            raise DecodeError(msg)
        if len(data) < header_size:
            msg = f"truncated value: {len(data)} bytes, shorter than the header"
            raise DecodeError(msg)
        fingerprint_bytes = data[len(SINGLE_OBJECT_MAGIC) : header_size]
        writer = self._writers_of(topic).get(fingerprint_bytes)
        if writer is None:
            raise DecodeError(_unknown_fingerprint_message(topic, fingerprint_bytes))
        return _read_body(data[header_size:], writer, self._schemas.parsed(topic))

    def _writers_of(self, topic: str) -> dict[bytes, dict[str, Any]]:
        writers = self._writers.get(topic)
        if writers is None:
            current = [load_schema(topic), self._schemas.parsed(topic)]
            writers = {schema_fingerprint(schema): schema for schema in current}
            self._writers[topic] = writers
        return writers


def _unknown_fingerprint_message(topic: str, fingerprint_bytes: bytes) -> str:
    other = _packaged_fingerprints().get(fingerprint_bytes)
    if other is not None:
        return f"value on {topic} was written with the schema of topic {other}"
    return (
        f"unknown schema fingerprint {fingerprint_bytes.hex()} on {topic}: neither its "
        "current schema nor a registered writer schema"
    )


class RegistryCodec:
    """Confluent wire format: ``00``, the 4-byte big-endian schema id, the body.

    The topic's schema is registered under the subject ``<topic>-value`` on first use; a
    value is decoded with the writer schema its id names, resolved against the reader schema.
    Schema ids and writer schemas are cached.
    """

    def __init__(
        self, url: str, reader_schemas: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        """Create a codec.

        Args:
            url: Schema registry URL; ``mock://<name>`` gives an in-memory registry.
            reader_schemas: Schema per topic to use instead of the packaged one.
        """
        self._client = SchemaRegistryClient.new_client({"url": url})
        self._schemas = _ReaderSchemas(reader_schemas)
        self._ids: dict[str, int] = {}
        self._writers: dict[int, dict[str, Any]] = {}

    def encode(self, topic: str, record: Mapping[str, Any]) -> bytes:
        """Validate a record, register the topic's schema if needed, encode (see `Codec`).

        Raises:
            RegistryError: The registry refused the schema.
        """
        body = _write_body(self._schemas.parsed(topic), record)
        schema_id = self._schema_id(topic)
        return CONFLUENT_MAGIC + schema_id.to_bytes(_SCHEMA_ID_SIZE, "big") + body

    def decode(self, topic: str, data: bytes) -> dict[str, Any]:
        """Decode a Confluent wire-format value of the topic (see `Codec`).

        Raises:
            RegistryError: The registry failed to answer for the writer schema.
        """
        header_size = len(CONFLUENT_MAGIC) + _SCHEMA_ID_SIZE
        if not data.startswith(CONFLUENT_MAGIC):
            msg = f"not a Confluent wire-format value: starts with {data[:1].hex()!r}, not '00'"
            raise DecodeError(msg)
        if len(data) < header_size:
            msg = f"truncated value: {len(data)} bytes, shorter than the header"
            raise DecodeError(msg)
        schema_id = int.from_bytes(data[len(CONFLUENT_MAGIC) : header_size], "big")
        reader = self._schemas.parsed(topic)
        return _read_body(data[header_size:], self._writer(schema_id), reader)

    def _schema_id(self, topic: str) -> int:
        schema_id = self._ids.get(topic)
        if schema_id is None:
            subject = f"{topic}-value"
            try:
                schema_id = self._client.register_schema(
                    subject, Schema(self._schemas.text(topic), "AVRO")
                )
            except Exception as error:  # SchemaRegistryError, or a transport's HTTP error
                msg = f"schema registry did not register the schema of {subject}: {error}"
                raise RegistryError(msg) from error
            self._ids[topic] = schema_id
        return schema_id

    def _writer(self, schema_id: int) -> dict[str, Any]:
        writer = self._writers.get(schema_id)
        if writer is None:
            try:
                found = self._client.get_schema(schema_id)
            except Exception as error:  # SchemaRegistryError, or a transport's HTTP error
                if isinstance(error, SchemaRegistryError) and error.http_status_code == 404:
                    msg = f"unknown schema id {schema_id}: not in the schema registry"
                    raise DecodeError(msg) from error
                msg = f"schema registry did not return schema id {schema_id}: {error}"
                raise RegistryError(msg) from error
            if not found.schema_str:
                msg = f"schema id {schema_id} has no schema text in the registry"
                raise DecodeError(msg)
            writer = _parse(json.loads(found.schema_str))
            self._writers[schema_id] = writer
        return writer


def make_codec(schema_registry_url: str | None) -> Codec:
    """Return the codec the contract prescribes for the configuration.

    Args:
        schema_registry_url: ``SCHEMA_REGISTRY_URL``; None or empty for single-object
            encoding against the packaged schemas.
    """
    if schema_registry_url:
        return RegistryCodec(schema_registry_url)
    return SingleObjectCodec()
