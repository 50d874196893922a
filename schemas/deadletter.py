"""The dead-letter contract: which headers a message on ``dlq.<topic>`` carries.

Streams and connectors write these headers when they give up on a message; the CLI reads
them back to list and replay dead letters.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.errors import DecodeError

ERROR_CLASS = "error.class"
ERROR_MESSAGE = "error.message"
ORIGIN_TOPIC = "origin.topic"
ORIGIN_PARTITION = "origin.partition"
ORIGIN_OFFSET = "origin.offset"

MAX_MESSAGE_CHARS = 2000
"""Longer error messages are cut so one dead letter cannot carry a huge header."""

Headers = Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]


@dataclass(frozen=True)
class DeadLetterInfo:
    """Why and from where a message was dead-lettered.

    Attributes:
        error_class: Qualified class name of the error, e.g. ``schemas.errors.DecodeError``.
        error_message: The error's message.
        origin_topic: Topic the message was read from.
        origin_partition: Its partition there.
        origin_offset: Its offset there.
    """

    error_class: str
    error_message: str
    origin_topic: str
    origin_partition: int
    origin_offset: int


def dead_letter_headers(
    error: BaseException, origin_topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """Build the headers of a dead letter.

    Args:
        error: Why the message could not be processed.
        origin_topic: Topic the message was read from.
        partition: Its partition there.
        offset: Its offset there.

    Returns:
        The headers ``error.class``, ``error.message``, ``origin.topic``,
        ``origin.partition`` and ``origin.offset``, UTF-8 encoded.
    """
    error_type = type(error)
    module = "" if error_type.__module__ == "builtins" else f"{error_type.__module__}."
    message = str(error)[:MAX_MESSAGE_CHARS] or error_type.__name__
    values = {
        ERROR_CLASS: f"{module}{error_type.__qualname__}",
        ERROR_MESSAGE: message,
        ORIGIN_TOPIC: origin_topic,
        ORIGIN_PARTITION: str(partition),
        ORIGIN_OFFSET: str(offset),
    }
    return [(name, value.encode("utf-8")) for name, value in values.items()]


def parse_dead_letter_headers(headers: Headers | None) -> DeadLetterInfo:
    """Read the dead-letter headers of a message.

    Other headers (for example the original message's) are ignored. When a header occurs
    more than once, the last one wins: a message dead-lettered again after a replay carries
    its newest failure last.

    Args:
        headers: The message headers as a list of ``(name, value)`` pairs or a mapping.

    Returns:
        The parsed dead-letter information.

    Raises:
        DecodeError: A dead-letter header is missing or malformed.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    found: dict[str, str] = {}
    for name, value in pairs:
        if isinstance(value, bytes):
            found[name] = value.decode("utf-8", errors="replace")
        elif value is not None:
            found[name] = value
    return DeadLetterInfo(
        error_class=_required(found, ERROR_CLASS),
        error_message=_required(found, ERROR_MESSAGE),
        origin_topic=_required(found, ORIGIN_TOPIC),
        origin_partition=_required_int(found, ORIGIN_PARTITION),
        origin_offset=_required_int(found, ORIGIN_OFFSET),
    )


def _required(found: Mapping[str, str], name: str) -> str:
    try:
        return found[name]
    except KeyError:
        msg = f"not a dead letter: header {name} is missing"
        raise DecodeError(msg) from None


def _required_int(found: Mapping[str, str], name: str) -> int:
    text = _required(found, name)
    try:
        return int(text)
    except ValueError:
        msg = f"dead-letter header {name} must be an integer, got {text!r}"
        raise DecodeError(msg) from None
