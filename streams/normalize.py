"""Normalisation of identifiers, master-data values and timestamps before they are stored.

Two spellings of the same e-mail, phone number, handle, name or postal code must become the
same string, or the identity graph splits one person in two and letters lose leading zeros.
"""

import functools
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import idna
import phonenumbers

_WHITESPACE = re.compile(r"\s+")
_EMAIL_LOCAL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+")
_KEYWORD_SEPARATORS = re.compile(r"[\s_]+")
_COUNTRY = re.compile(r"[A-Z]{2}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
"""Made once: a profile converts dozens of timestamps each time it is stored or read."""
SPELLINGS_CACHED = 65_536
"""E-mail and phone spellings whose normal form is remembered, per function.

A person's e-mail and phone come back with every event, and the resolver and the profile
both read them; the IDNA check and parsing a phone number are the dear part of an event.
"""


# Numeric postal codes: digits per country. A shorter number lost its leading zeros upstream
# (a spreadsheet or a JSON number) and is padded back.
_NUMERIC_POSTAL_DIGITS = {
    "DE": 5,
    "AT": 4,
    "CH": 4,
    "LI": 4,
    "LU": 4,
    "BE": 4,
    "DK": 4,
    "FR": 5,
    "IT": 5,
    "ES": 5,
}
# Postal codes with letters or separators: the accepted shape after upper-casing.
_PATTERNED_POSTAL_CODES = {
    "NL": (re.compile(r"(\d{4}) ?([A-Z]{2})"), r"\1 \2"),
    "PL": (re.compile(r"(\d{2})-?(\d{3})"), r"\1-\2"),
}
# Old-style country prefixes in front of a postal code, e.g. "D-80331" or "CH-8001".
_POSTAL_PREFIX = re.compile(r"^(?:[A-Z]{1,3})-\s*(?=\d)")


@functools.lru_cache(maxsize=SPELLINGS_CACHED)
def normalize_email(value: str | None) -> str | None:
    """Return the canonical form of an e-mail address, or None when it is not one.

    The address is trimmed and lower-cased; an internationalised domain is stored in its
    ASCII (IDNA) form, so ``Max@Müller.de`` and ``max@xn--mller-kva.de`` are the same.

    Args:
        value: The address as a person or a system entered it.

    Returns:
        ``local@domain`` in lower case, or None when the value is not a usable address.
    """
    if not value:
        return None
    local, at, domain = value.strip().lower().rpartition("@")
    if not at or not _valid_local_part(local):
        return None
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    labels = ascii_domain.split(".")
    top_level = labels[-1]
    if len(labels) < 2 or not (top_level.isalpha() or top_level.startswith("xn--")):
        return None
    return f"{local}@{ascii_domain}"


def _valid_local_part(local: str) -> bool:
    return (
        0 < len(local) <= 64
        and _EMAIL_LOCAL.fullmatch(local) is not None
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
    )


@functools.lru_cache(maxsize=SPELLINGS_CACHED)
def normalize_phone(value: str | None, default_region: str = "DE") -> str | None:
    """Return a phone number in E.164 form, or None when it is not a valid number.

    Usual German and international spellings give the same result: ``0171 1234567``,
    ``+49 (0)171 123 45 67``, ``0049 171 1234567`` and ``(0171) 123-4567`` all become
    ``+491711234567``. An extension is dropped.

    Args:
        value: The number as entered.
        default_region: ISO 3166-1 alpha-2 region for numbers without a country code.

    Returns:
        The number as ``+<country code><number>``, or None.
    """
    if not value or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    result: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return result


def normalize_handle(value: str) -> str:
    """Return a social media handle without ``@`` in lower case, whatever the platform.

    Args:
        value: A handle such as ``@Erika_M`` or ``erika_m``.

    Returns:
        The handle such as ``erika_m``; empty when nothing but ``@`` and spaces was given.
    """
    return unicodedata.normalize("NFKC", value).strip().lstrip("@").strip().casefold()


def normalize_name(value: str) -> str:
    """Return a person's or a place's name in Unicode NFC with single inner spaces.

    The case is never changed: ``van der Berg`` and ``McLean`` stay as written.

    Args:
        value: The name as entered.

    Returns:
        The trimmed name in NFC form.
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", value)).strip()


def normalize_country(value: str | None) -> str | None:
    """Return an ISO 3166-1 alpha-2 country code in upper case, or None when it is not one.

    Args:
        value: A code such as ``de`` or ``DE``.

    Returns:
        The code such as ``DE``, or None.
    """
    if not value:
        return None
    code = value.strip().upper()
    return code if _COUNTRY.fullmatch(code) else None


def normalize_postal_code(value: str | int | None, country: str | None) -> str | None:
    """Return a postal code as a string in its country's shape, or None when it cannot be one.

    A postal code is never a number: a German code that arrived as the integer ``1067``
    becomes ``"01067"``, an Austrian ``"1010"`` stays ``"1010"``. Prefixes such as ``D-``
    are removed. For countries without a known shape the trimmed, upper-cased value is kept.

    Args:
        value: The code as sent upstream, a string or (wrongly) an integer.
        country: ISO 3166-1 alpha-2 code of the address, if known.

    Returns:
        The postal code, or None when it is empty or does not fit the country's shape.
    """
    if value is None or isinstance(value, bool):
        return None
    text = _WHITESPACE.sub(" ", str(value)).strip().upper()
    text = _POSTAL_PREFIX.sub("", text)
    if not text:
        return None
    code = normalize_country(country)
    if code in _NUMERIC_POSTAL_DIGITS:
        digits = _NUMERIC_POSTAL_DIGITS[code]
        if not text.isascii() or not text.isdigit() or len(text) > digits:
            return None
        return text.zfill(digits)
    if code in _PATTERNED_POSTAL_CODES:
        pattern, template = _PATTERNED_POSTAL_CODES[code]
        match = pattern.fullmatch(text)
        if match is None:
            return None
        return match.expand(template)
    return text


def normalize_keyword(value: str) -> str:
    """Return an interest keyword in a form that matches across sources.

    Case, a leading ``#`` and the separator between words do not matter:
    ``#RoadBike``, ``road bike`` and ``Road_Bike`` give ``roadbike``, ``road_bike`` and
    ``road_bike``.

    Args:
        value: A product category, a content keyword or a hashtag.

    Returns:
        The keyword in lower case with words joined by ``_``; empty when nothing is left.
    """
    text = unicodedata.normalize("NFKC", value).strip().lstrip("#").casefold()
    return _KEYWORD_SEPARATORS.sub("_", text).strip("_")


def to_epoch_ms(moment: datetime) -> int:
    """Return a timestamp as epoch milliseconds, the form state tables store.

    Args:
        moment: An aware timestamp; a naive one is taken as UTC.

    Returns:
        Milliseconds since 1970-01-01T00:00:00Z.
    """
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MILLISECOND


def from_epoch_ms(millis: int) -> datetime:
    """Return the aware UTC timestamp of epoch milliseconds.

    Args:
        millis: Milliseconds since 1970-01-01T00:00:00Z.

    Returns:
        The timestamp in UTC.
    """
    return _EPOCH + _MILLISECOND * millis


def iso_utc(moment: datetime) -> str:
    """Return a timestamp as ISO-8601 in UTC with milliseconds, as the HTTP API shows it.

    Args:
        moment: An aware timestamp; a naive one is taken as UTC.

    Returns:
        E.g. ``2026-03-01T09:30:00.000Z``.
    """
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
