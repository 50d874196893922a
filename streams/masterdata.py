"""Master data of a person field by field, each value with the source and time it came from.

The shop, the CMS and social listening all know a name or an address; the source priority
of the rules decides which value the profile shows, so a form typed in a hurry never
overwrites what the customer entered at checkout.
"""

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.normalize import (
    from_epoch_ms,
    normalize_country,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_postal_code,
    to_epoch_ms,
)
from streams.salutation import normalize_title

MASTER_FIELDS = (
    "first_name",
    "last_name",
    "gender",
    "title",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
)
GENDERS = ("female", "male", "diverse")


@dataclass(frozen=True)
class FieldValue:
    """One master-data value with its provenance."""

    value: str
    source_topic: str
    observed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return the value as a JSON-able dict (time as epoch milliseconds)."""
        return {
            "value": self.value,
            "source": self.source_topic,
            "at": to_epoch_ms(self.observed_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FieldValue":
        """Rebuild a value from :meth:`to_dict`."""
        return cls(data["value"], data["source"], from_epoch_ms(data["at"]))


def _rank(topic: str, priority: Sequence[str]) -> int:
    """Position in the priority list; a source not listed ranks below every listed one."""
    return priority.index(topic) if topic in priority else len(priority)


def choose(
    current: FieldValue | None, candidate: FieldValue, priority: Sequence[str]
) -> FieldValue:
    """Decide which of two values of the same field the profile keeps (CONTRACT section 7).

    A value from a higher-priority source wins; between values of the same priority the newer
    one wins (at the same instant, the larger string, so the result never depends on arrival
    order). A lower-priority source only fills an empty field; an empty value never wins.

    Args:
        current: The value the profile has, if any.
        candidate: A value just observed (or from a profile being merged).
        priority: Source topics, highest priority first (``rules.source_priority``).

    Returns:
        The value to keep: ``current`` or ``candidate``.
    """
    if current is None or not current.value:
        return candidate
    if not candidate.value:
        return current

    def strength(field: FieldValue) -> tuple[int, int, str]:
        return (-_rank(field.source_topic, priority), to_epoch_ms(field.observed_at), field.value)

    return candidate if strength(candidate) > strength(current) else current


def _gender(value: str) -> str:
    gender = value.strip().lower()
    return gender if gender in GENDERS else ""


_NORMALISERS: dict[str, Callable[[str, str | None], str | None]] = {
    "first_name": lambda value, _country: normalize_name(value),
    "last_name": lambda value, _country: normalize_name(value),
    "gender": lambda value, _country: _gender(value),
    "title": lambda value, _country: normalize_title(value),
    "email": lambda value, _country: normalize_email(value),
    "phone": lambda value, country: normalize_phone(value, country or "DE"),
    "street": lambda value, _country: normalize_name(value),
    "postal_code": lambda value, country: normalize_postal_code(value, country),
    "city": lambda value, _country: normalize_name(value),
    "country": lambda value, _country: normalize_country(value),
}


def master_data(values: Mapping[str, Any]) -> dict[str, str]:
    """Pick and normalise the master-data fields of a shop ``customer`` record or a CMS form.

    Names are NFC with single spaces, the e-mail lower case with an IDNA domain, the phone
    E.164 (read in the address's country, Germany when unknown), the postal code a string
    in the country's shape. Fields that are absent, empty, ``unknown`` (gender) or invalid
    are left out, so they never overwrite a known value.

    Args:
        values: A mapping with any of :data:`MASTER_FIELDS` as keys.

    Returns:
        Field name to normalised value.
    """
    country = normalize_country(_text(values.get("country")))
    result: dict[str, str] = {}
    for name, normalise in _NORMALISERS.items():
        raw = values.get(name)
        if name == "postal_code" and isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        text = _text(raw)
        normalised = normalise(text, country) if text else None
        if normalised:
            result[name] = normalised
    return result


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def apply_master_data(
    fields: MutableMapping[str, FieldValue],
    values: Mapping[str, str],
    source_topic: str,
    observed_at: datetime,
    priority: Sequence[str],
) -> bool:
    """Offer normalised values from one source to a profile's master data.

    Args:
        fields: The profile's field name to value; changed in place.
        values: Output of :func:`master_data`.
        source_topic: Topic the values came from.
        observed_at: When the source saw them (the event time).
        priority: Source topics, highest priority first.

    Returns:
        True when a value or its source changed.
    """
    changed = False
    for name, value in values.items():
        current = fields.get(name)
        kept = choose(current, FieldValue(value, source_topic, observed_at), priority)
        if kept != current:
            fields[name] = kept
            changed = True
    return changed
