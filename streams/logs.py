"""Structured logging for every journeyhub process, with personal data scrubbed out.

structlog renders JSON for log shippers or aligned lines for people; the standard-library
loggers of Faust and aiokafka go through the same chain. Logs carry ids, never people.
"""

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        "address",
        "author_handle",
        "birthday",
        "city",
        "date_of_birth",
        "first_name",
        "full_name",
        "gender",
        "handle",
        "last_name",
        "letter_salutation",
        "lines",
        "name",
        "postal_code",
        "responsible",
        "salutation",
        "social_handles",
        "street",
        "text",
        "to",
    }
)
"""Keys whose values are personal data wherever they appear; so is any key ending in
``email`` or ``phone`` (``email``, ``owner_email``, ``phones``, …)."""

_PERSONAL_SUFFIXES = ("email", "phone")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number starts with + or 0 and is not part of a longer token (no letter, digit,
# dot or hyphen right before or after), so dates, decimals, UUIDs and document ids survive.
_PHONE = re.compile(r"(?<![\w+/.-])(?:\+|\(?0)\d[\d ()/-]{4,}\d(?!\w|[-.]\w)")
_PHONE_DIGITS = range(7, 16)
# Kafka clients log keys and values as bytes literals at DEBUG (aiokafka's "Sending (key=b'…'
# value=b'…')"); their names, streets and phones cannot be told apart from ids, so all go.
_BYTES_LITERAL = re.compile(r"""(?<!\w)b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_REDACTED_BYTES = f"b'{REDACTED}'"
_MAX_DEPTH = 16
_LIBRARY_LEVEL = logging.WARNING


def scrub_personal_data(logger: object, method_name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor that removes personal data from an event.

    Values under personal keys (see :data:`PERSONAL_KEYS`) become ``"[redacted]"``;
    e-mail addresses and phone numbers inside any other text are masked the same way.
    Nested dicts and lists are scrubbed too; the caller's objects are not modified.

    Args:
        logger: The wrapped logger (unused).
        method_name: The log method called (unused).
        event_dict: The event to scrub.

    Returns:
        A scrubbed copy of ``event_dict``.
    """
    return {
        key: value if key == "exc_info" or key.startswith("_") else _scrub_field(key, value, 0)
        for key, value in event_dict.items()
    }


def mask_personal_text(text: str) -> str:
    """Mask e-mail addresses, phone numbers and message bytes in free text.

    Args:
        text: Any text, e.g. a log message or an exception message.

    Returns:
        ``text`` with every e-mail address and phone number replaced by ``"[redacted]"``
        and every bytes literal (a Kafka key or value as clients log it) by
        ``b'[redacted]'``.
    """
    text = _BYTES_LITERAL.sub(_REDACTED_BYTES, text)
    return _PHONE.sub(_mask_phone, _EMAIL.sub(REDACTED, text))


def configure_logging(level: str, fmt: Literal["json", "console"]) -> None:
    """Set up structlog and the standard-library root logger for this process.

    Both write to stderr (stdout stays free for command output) with ISO timestamps and
    personal data scrubbed. Standard-library loggers (Faust, aiokafka) log from WARNING
    (or ``level`` when higher) up, everything when ``level`` is DEBUG. Calling it again
    replaces the setup.

    Args:
        level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR`` (any case).
        fmt: ``json`` for one JSON object per line, ``console`` for people.

    Raises:
        ValueError: ``level`` is not a log level.
    """
    level_number = logging.getLevelNamesMapping().get(level.upper())
    if level_number is None:
        msg = f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR"
        raise ValueError(msg)
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        scrub_personal_data,
    ]
    renderer = _renderer(fmt)
    structlog.configure(
        processors=[*chain, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = _StdlibHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *chain],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(
        level_number if level_number <= logging.DEBUG else max(level_number, _LIBRARY_LEVEL)
    )


class _StdlibHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs, so a second call can replace it."""


def _renderer(fmt: Literal["json", "console"]) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
    )


def _is_personal(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name in PERSONAL_KEYS or name.rstrip("s").endswith(_PERSONAL_SUFFIXES)


def _scrub_field(key: object, value: Any, depth: int) -> Any:
    if value is not None and isinstance(key, str) and _is_personal(key):
        return REDACTED
    return _scrub_value(value, depth)


def _scrub_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            _scrub_value(key, depth + 1): _scrub_field(key, item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(item, depth + 1) for item in value]
    return mask_personal_text(value if isinstance(value, str) else str(value))


def _mask_phone(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return REDACTED if digits in _PHONE_DIGITS else match.group()
