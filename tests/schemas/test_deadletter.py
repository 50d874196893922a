import pytest

from schemas.deadletter import (
    MAX_MESSAGE_CHARS,
    DeadLetterInfo,
    dead_letter_headers,
    parse_dead_letter_headers,
)
from schemas.errors import DecodeError


def test_headers_name_the_error_and_the_origin_as_utf8() -> None:
    headers = dead_letter_headers(DecodeError("bad magic: 7b22"), "shop.events", 3, 1041)
    assert headers == [
        ("error.class", b"schemas.errors.DecodeError"),
        ("error.message", b"bad magic: 7b22"),
        ("origin.topic", b"shop.events"),
        ("origin.partition", b"3"),
        ("origin.offset", b"1041"),
    ]


def test_builtin_errors_are_named_without_module() -> None:
    headers = dict(dead_letter_headers(ValueError("Größe"), "alerts", 0, 0))
    assert headers["error.class"] == b"ValueError"
    assert headers["error.message"] == "Größe".encode()


def test_an_error_without_message_is_described_by_its_class() -> None:
    headers = dict(dead_letter_headers(TimeoutError(), "alerts", 0, 0))
    assert headers["error.message"] == b"TimeoutError"


def test_long_messages_are_cut() -> None:
    headers = dict(dead_letter_headers(RuntimeError("x" * 10_000), "alerts", 0, 0))
    assert len(headers["error.message"]) == MAX_MESSAGE_CHARS


def test_parsing_reads_back_what_was_written() -> None:
    headers = dead_letter_headers(KeyError("sku"), "erp.invoices", 2, 77)
    assert parse_dead_letter_headers(headers) == DeadLetterInfo(
        error_class="KeyError",
        error_message="'sku'",
        origin_topic="erp.invoices",
        origin_partition=2,
        origin_offset=77,
    )


def test_parsing_ignores_other_headers_and_takes_the_newest_failure() -> None:
    first = dead_letter_headers(ValueError("first"), "alerts", 0, 5)
    again = dead_letter_headers(ValueError("after replay"), "alerts", 1, 9)
    info = parse_dead_letter_headers([("trace-id", b"abc"), *first, *again])
    assert (info.error_message, info.origin_partition, info.origin_offset) == ("after replay", 1, 9)


def test_parsing_accepts_a_mapping_of_strings() -> None:
    headers = {
        "error.class": "ValueError",
        "error.message": "boom",
        "origin.topic": "alerts",
        "origin.partition": "0",
        "origin.offset": "12",
    }
    assert parse_dead_letter_headers(headers).origin_offset == 12


def test_a_message_without_dead_letter_headers_is_refused() -> None:
    with pytest.raises(DecodeError, match=r"error\.class is missing"):
        parse_dead_letter_headers(None)


def test_a_non_numeric_offset_is_refused() -> None:
    headers = dict(dead_letter_headers(ValueError("boom"), "alerts", 0, 0))
    headers["origin.offset"] = b"x"
    with pytest.raises(DecodeError, match=r"origin\.offset must be an integer"):
        parse_dead_letter_headers(headers)
