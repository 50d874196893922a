"""Topic schemas, catalog, Avro codecs and JSON conversion of journeyhub (CONTRACT §1-2).

The leaf package: it depends on nothing else of ours. Streams, connectors and the CLI
encode, decode and describe topic values only through what is exported here.
"""

from schemas.catalog import CATALOG, TopicSpec, dlq_topic, get_topic, origin_of_dlq, record_key
from schemas.codec import Codec, RegistryCodec, SingleObjectCodec, load_schema, make_codec
from schemas.deadletter import DeadLetterInfo, dead_letter_headers, parse_dead_letter_headers
from schemas.errors import (
    DecodeError,
    EncodeError,
    JsonConversionError,
    RegistryError,
    SchemaError,
    UnknownTopicError,
)
from schemas.jsonconv import json_to_record, record_to_json

__all__ = [
    "CATALOG",
    "Codec",
    "DeadLetterInfo",
    "DecodeError",
    "EncodeError",
    "JsonConversionError",
    "RegistryCodec",
    "RegistryError",
    "SchemaError",
    "SingleObjectCodec",
    "TopicSpec",
    "UnknownTopicError",
    "dead_letter_headers",
    "dlq_topic",
    "get_topic",
    "json_to_record",
    "load_schema",
    "make_codec",
    "origin_of_dlq",
    "parse_dead_letter_headers",
    "record_key",
    "record_to_json",
]
