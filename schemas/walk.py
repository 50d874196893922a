"""Walks a parsed Avro schema and a value side by side.

Validating Python values and converting JSON documents both follow the schema's structure
(records, unions, arrays, maps, enums) and differ only in what they do with leaf values;
that structure lives here once, and each user supplies its leaf functions. A schema is
compiled once into nested converter functions, because encoding walks every value.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import EncodeError, JsonConversionError, SchemaError

Schema = str | list[Any] | dict[str, Any]
"""A parsed Avro schema or a part of one (fastavro.parse_schema output)."""

LeafFunction = Callable[[dict[str, Any], Any], Any]
"""Checks or converts a primitive or logical-type value; raises `Mismatch` if it does not fit."""

FieldError = type[EncodeError] | type[JsonConversionError]

# A field path as a linked list, rendered only for an error message: None for the root,
# else (parent, segment) with a field name (str), an array index (int) or a map key (1-tuple).
Path = tuple[Any, str | int | tuple[str]] | None
Converter = Callable[[Any, Path], Any]


class Mismatch(Exception):
    """A leaf value does not fit its schema.

    Attributes:
        expected: What would fit, phrased for a user, e.g. ``a decimal with at most 2 places``.
    """

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True)
class Walker:
    """Rebuilds a value along its schema, applying leaf functions to leaf values.

    Attributes:
        leaves: Leaf function per Avro primitive type or logical type name; a logical type
            without an entry is treated as its underlying type, as Avro requires.
        show: Renders an offending value for an error message.
        error: Error class raised with a message and the field path.
    """

    leaves: Mapping[str, LeafFunction]
    show: Callable[[Any], str]
    error: FieldError
    _compiled: dict[int, tuple[dict[str, Any], Converter]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def walk(self, schema: dict[str, Any], value: Any) -> Any:
        """Return ``value`` rebuilt along ``schema`` with every leaf converted.

        Absent record fields get their schema default; unknown record fields are refused.

        Raises:
            EncodeError | JsonConversionError: (``self.error``) naming the field path.
            SchemaError: The schema uses a type no leaf function handles.
        """
        entry = self._compiled.get(id(schema))
        if entry is None or entry[0] is not schema:
            entry = (schema, _Compiler(self).compile(schema))
            self._compiled[id(schema)] = entry
        return entry[1](value, None)

    def fail(self, path: Path, problem: str) -> SchemaError:
        """Return the error to raise for a problem at a field path."""
        rendered = _render_path(path)
        message = f"{rendered}: {problem}" if rendered else problem
        return self.error(message, rendered)

    def mismatch(self, path: Path, expected: str, value: Any) -> SchemaError:
        """Return the error to raise for a value that is not what was expected."""
        return self.fail(path, f"expected {expected}, got {self.show(value)}")


def _render_path(path: Path) -> str:
    """Render a field path, e.g. ``order.items[0].unit_price`` or ``form["city"]``."""
    parts: list[str] = []
    while path is not None:
        path, segment = path
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif isinstance(segment, tuple):
            parts.append(f"[{json.dumps(segment[0], ensure_ascii=False)}]")
        else:
            parts.append(f".{segment}")
    return "".join(reversed(parts)).removeprefix(".")


class _Compiler:
    """Turns a schema into nested converter functions for one walker."""

    def __init__(self, walker: Walker) -> None:
        self.walker = walker
        self.by_name: dict[str, Converter] = {}

    def compile(self, schema: Schema) -> Converter:
        if isinstance(schema, list):
            return self._union(schema)
        if isinstance(schema, str):
            if schema in self.by_name:
                return self._reference(schema)
            schema = {"type": schema}
        kind = schema["type"]
        if kind == "record":
            converter = self._record(schema)
        elif kind == "enum":
            converter = self._enum(schema)
        elif kind == "array":
            return self._array(schema)
        elif kind == "map":
            return self._map(schema)
        else:
            return self._leaf(schema)
        self.by_name[schema["name"]] = converter
        return converter

    def _reference(self, name: str) -> Converter:
        # Looked up when called, so a record may refer to itself.
        by_name = self.by_name
        return lambda value, path: by_name[name](value, path)

    def _union(self, branches: list[Any]) -> Converter:
        walker = self.walker
        nullable = "null" in branches
        candidates = [self.compile(branch) for branch in branches if branch != "null"]
        names = ", ".join(_type_name(branch) for branch in branches)
        if len(candidates) == 1:
            return self._optional(candidates[0]) if nullable else candidates[0]

        def convert(value: Any, path: Path) -> Any:
            if value is None and nullable:
                return None
            for candidate in candidates:
                try:
                    return candidate(value, path)
                except SchemaError:
                    continue
            raise walker.mismatch(path, f"one of the types {names}", value)

        return convert

    @staticmethod
    def _optional(converter: Converter) -> Converter:
        return lambda value, path: None if value is None else converter(value, path)

    def _record(self, schema: dict[str, Any]) -> Converter:
        walker = self.walker
        names = [item["name"] for item in schema["fields"]]
        known = frozenset(names)
        self.by_name[schema["name"]] = self._reference(schema["name"])
        fields = [
            (item["name"], self.compile(item["type"]), "default" in item, item.get("default"))
            for item in schema["fields"]
        ]

        def convert(value: Any, path: Path) -> dict[str, Any]:
            if not isinstance(value, Mapping):
                raise walker.mismatch(path, "a record", value)
            if not known.issuperset(value):
                unknown = next(str(key) for key in value if key not in known)
                problem = f"unknown field; known fields: {', '.join(names)}"
                raise walker.fail((path, unknown), problem)
            record = {}
            for name, field_converter, has_default, default in fields:
                if name in value:
                    record[name] = field_converter(value[name], (path, name))
                elif has_default:
                    record[name] = field_converter(default, (path, name))
                else:
                    raise walker.fail((path, name), "required field is missing")
            return record

        return convert

    def _array(self, schema: dict[str, Any]) -> Converter:
        walker = self.walker
        item_converter = self.compile(schema["items"])

        def convert(value: Any, path: Path) -> list[Any]:
            if not isinstance(value, list | tuple):
                raise walker.mismatch(path, "an array", value)
            return [item_converter(item, (path, index)) for index, item in enumerate(value)]

        return convert

    def _map(self, schema: dict[str, Any]) -> Converter:
        walker = self.walker
        value_converter = self.compile(schema["values"])

        def convert(value: Any, path: Path) -> dict[str, Any]:
            if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
                raise walker.mismatch(path, "a map with string keys", value)
            return {key: value_converter(item, (path, (key,))) for key, item in value.items()}

        return convert

    def _enum(self, schema: dict[str, Any]) -> Converter:
        walker = self.walker
        symbols = frozenset(schema["symbols"])
        expected = f"one of {', '.join(schema['symbols'])}"

        def convert(value: Any, path: Path) -> str:
            if not isinstance(value, str) or value not in symbols:
                raise walker.mismatch(path, expected, value)
            return value

        return convert

    def _leaf(self, schema: dict[str, Any]) -> Converter:
        walker = self.walker
        leaves = walker.leaves
        function = leaves.get(schema.get("logicalType", "")) or leaves.get(schema["type"])
        if function is None:
            msg = f"Avro type {_type_name(schema)} is not supported"
            raise SchemaError(msg)

        def convert(value: Any, path: Path) -> Any:
            try:
                return function(schema, value)
            except Mismatch as mismatch:
                raise walker.mismatch(path, mismatch.expected, value) from None

        return convert


def _type_name(schema: Schema) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    name: str = schema.get("logicalType") or schema.get("name") or schema["type"]
    return name
