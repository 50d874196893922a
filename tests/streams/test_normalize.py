import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.normalize import (
    from_epoch_ms,
    iso_utc,
    normalize_country,
    normalize_email,
    normalize_handle,
    normalize_keyword,
    normalize_name,
    normalize_phone,
    normalize_postal_code,
    to_epoch_ms,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Erika.Musterfrau@Example.DE ", "erika.musterfrau@example.de"),
        ("max@müller.de", "max@xn--mller-kva.de"),
        ("Max@MÜLLER.de", "max@xn--mller-kva.de"),
        ("a+tag@sub.example.com", "a+tag@sub.example.com"),
    ],
)
def test_email_spellings_of_one_address_become_one(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "erika",
        "erika@",
        "@example.de",
        "erika@localhost",
        "er ika@example.de",
        "erika..m@example.de",
        ".erika@example.de",
        "erika@exa_mple.de",
        None,
    ],
)
def test_email_that_is_no_address_gives_none(raw: str | None) -> None:
    assert normalize_email(raw) is None


@pytest.mark.parametrize(
    "spelling",
    [
        "0171 1234567",
        "+49 (0)171 123 45 67",
        "0049 171 1234567",
        "(0171) 123-4567",
        "+491711234567",
        "0171/1234567",
        "+49-171-1234567",
    ],
)
def test_usual_german_spellings_give_the_same_e164(spelling: str) -> None:
    assert normalize_phone(spelling) == "+491711234567"


@given(
    prefix=st.sampled_from(["160", "170", "171", "172", "175", "176", "179"]),
    subscriber=st.integers(min_value=1_000_000, max_value=9_999_999),
)
def test_every_spelling_of_a_german_mobile_number_gives_one_e164(
    prefix: str, subscriber: int
) -> None:
    digits = str(subscriber)
    spellings = [
        f"0{prefix} {digits}",
        f"+49 (0){prefix} {digits[:3]} {digits[3:5]} {digits[5:]}",
        f"0049 {prefix} {digits}",
        f"(0{prefix}) {digits[:3]}-{digits[3:]}",
        f"+49{prefix}{digits}",
        f"0{prefix}/{digits}",
    ]
    results = {normalize_phone(spelling) for spelling in spellings}
    assert results == {f"+49{prefix}{digits}"}


def test_phone_without_country_code_is_read_in_the_given_region() -> None:
    assert normalize_phone("0664 1234567", "AT") == "+436641234567"
    assert normalize_phone("+43 664 1234567") == "+436641234567"


@pytest.mark.parametrize("raw", ["", "12", "abc", "0171", "+49 123", None])
def test_phone_that_is_no_valid_number_gives_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize("raw", ["@Erika_M", "erika_m", "  @ERIKA_M ", "Erika_M"])
def test_handle_matches_with_or_without_at_and_in_any_case(raw: str) -> None:
    assert normalize_handle(raw) == "erika_m"


def test_name_is_trimmed_and_composed_but_keeps_its_case() -> None:
    decomposed = "Mu\u0308ller"
    assert normalize_name(f"  {decomposed}  ") == "Müller"
    assert normalize_name("van  der\tBerg") == "van der Berg"
    assert normalize_name("McLean") == "McLean"


@given(st.text())
def test_name_normalisation_is_idempotent_and_nfc(raw: str) -> None:
    once = normalize_name(raw)
    assert normalize_name(once) == once
    assert unicodedata.is_normalized("NFC", once)


@given(st.integers(min_value=0, max_value=99_999))
def test_german_postal_code_keeps_its_leading_zero_from_string_or_int(number: int) -> None:
    code = f"{number:05d}"
    assert normalize_postal_code(code, "DE") == code
    assert normalize_postal_code(number, "DE") == code


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("1067", "DE", "01067"),
        (" 01067 ", "de", "01067"),
        ("D-01067", "DE", "01067"),
        ("1010", "AT", "1010"),
        (8001, "CH", "8001"),
        ("CH-8001", "CH", "8001"),
        ("100", "IT", "00100"),
        ("1234ab", "NL", "1234 AB"),
        ("00950", "PL", "00-950"),
        ("sw1a  1aa", "GB", "SW1A 1AA"),
        ("12345", None, "12345"),
    ],
)
def test_postal_code_takes_its_country_shape(
    raw: str | int, country: str | None, expected: str
) -> None:
    assert normalize_postal_code(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country"),
    [("123456", "DE"), ("8O331", "DE"), ("12345", "AT"), ("", "DE"), (None, "DE"), ("AB12", "NL")],
)
def test_postal_code_that_cannot_exist_in_the_country_gives_none(
    raw: str | None, country: str
) -> None:
    assert normalize_postal_code(raw, country) is None


def test_country_code_is_upper_case_alpha2() -> None:
    assert normalize_country(" de ") == "DE"
    assert normalize_country("Germany") is None


@pytest.mark.parametrize("raw", ["#RoadBike", "roadbike", " ROADBIKE "])
def test_keyword_ignores_case_and_hash(raw: str) -> None:
    assert normalize_keyword(raw) == "roadbike"


def test_keyword_joins_words_with_underscore() -> None:
    assert normalize_keyword("Road  Bike") == normalize_keyword("road_bike") == "road_bike"


def test_timestamps_round_trip_through_epoch_millis_and_read_as_utc_iso() -> None:
    moment = datetime(2026, 3, 1, 9, 30, 0, 123000, tzinfo=UTC)
    assert from_epoch_ms(to_epoch_ms(moment)) == moment
    assert iso_utc(moment) == "2026-03-01T09:30:00.123Z"
