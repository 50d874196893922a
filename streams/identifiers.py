"""The identifiers of people that events carry, as keys that match however they were written.

An identifier is a key ``kind:normalised value``: e-mail addresses in lower case, phone
numbers in E.164, social handles in lower case without their ``@``. Which identifiers each
source event carries, and which kinds name one person for sure, is decided here; which
customer they belong to is the identity graph's business (:mod:`streams.identity`).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from streams.errors import JourneyhubError
from streams.normalize import normalize_country, normalize_email, normalize_handle, normalize_phone

IdentityKey = str
"""``kind:normalised value``, e.g. ``email:erika@example.de`` or ``session:s-123``."""

# Kinds in the order that picks the identifier a new customer id is derived from.
KINDS = ("shop_customer", "email", "phone", "handle", "order", "chip", "session")
_KIND_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
"""Position of each kind in :data:`KINDS`, the order identifiers are sorted in."""
# A session is weak: a shared computer must not merge two people; every other kind is strong.
WEAK_KINDS = frozenset({"session"})
# Identity kind -> name in the profile API's ``identities`` (orders are kept in ``orders``).
IDENTITY_NAMES = {
    "email": "emails",
    "phone": "phones",
    "session": "session_ids",
    "shop_customer": "shop_customer_ids",
    "handle": "social_handles",
    "chip": "chip_ids",
}
MAX_SESSIONS = 20


class IdentityError(JourneyhubError):
    """An event carries no identifier, or the alias table holds a cycle."""


def identity_key(kind: str, raw: object, *, region: str = "DE") -> IdentityKey | None:
    """Return the key of one identifier, normalised so that spellings of it match.

    Args:
        kind: One of :data:`KINDS`.
        raw: The identifier as the event carries it.
        region: Country for phone numbers without a country code.

    Returns:
        ``kind:value``, or None when the value is empty or not valid for its kind.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    return _normalized_key(kind, raw, region)


def _normalized_key(kind: str, raw: str, region: str) -> IdentityKey | None:
    """The key of a non-empty identifier (e-mail and phone spellings are remembered)."""
    value: str | None
    if kind == "email":
        value = normalize_email(raw)
    elif kind == "phone":
        value = normalize_phone(raw, region)
    elif kind == "handle":
        value = normalize_handle(raw)
    else:
        value = raw.strip()
    return f"{kind}:{value}" if value else None


def in_kind_order(key: IdentityKey) -> tuple[int, str]:
    """Sort key of identifiers: by kind as :data:`KINDS` lists them, then by value."""
    return _KIND_RANK[kind_of(key)], key


def kind_of(key: IdentityKey) -> str:
    """Return the kind of an identity key (the part before the first colon)."""
    return key.partition(":")[0]


def value_of(key: IdentityKey) -> str:
    """Return the normalised value of an identity key (the part after the first colon)."""
    return key.partition(":")[2]


def is_strong(key: IdentityKey) -> bool:
    """Whether the identifier names one person for sure (everything but a session)."""
    return kind_of(key) not in WEAK_KINDS


def _keys(pairs: Iterable[tuple[str, object]], region: str = "DE") -> list[IdentityKey]:
    keys = {identity_key(kind, raw, region=region) for kind, raw in pairs}
    return sorted((key for key in keys if key), key=in_kind_order)


def _shop(record: Mapping[str, Any]) -> list[IdentityKey]:
    customer = record.get("customer") or {}
    order = record.get("order") or {}
    region = normalize_country(customer.get("country")) or "DE"
    handles = [("handle", handle) for handle in customer.get("social_handles") or ()]
    return _keys(
        [
            ("session", record.get("session_id")),
            ("shop_customer", record.get("customer_id")),
            ("email", customer.get("email")),
            ("phone", customer.get("phone")),
            ("order", order.get("order_id")),
            *handles,
        ],
        region,
    )


def _cms_or_consent(record: Mapping[str, Any]) -> list[IdentityKey]:
    return _keys(
        [
            ("session", record.get("session_id")),
            ("shop_customer", record.get("customer_id")),
            ("email", record.get("email")),
        ]
    )


def _social(record: Mapping[str, Any]) -> list[IdentityKey]:
    return _keys([("handle", record.get("author_handle"))])


def _rfid(record: Mapping[str, Any]) -> list[IdentityKey]:
    return _keys([("chip", record.get("chip_id")), ("order", record.get("order_id"))])


def _privacy(record: Mapping[str, Any]) -> list[IdentityKey]:
    return _keys([("shop_customer", record.get("customer_id")), ("email", record.get("email"))])


_EXTRACTORS = {
    "shop.events": _shop,
    "cms.events": _cms_or_consent,
    "consent.events": _cms_or_consent,
    "social.posts": _social,
    "rfid.production": _rfid,
    "privacy.requests": _privacy,
}


def identifiers_from(topic: str, record: Mapping[str, Any]) -> list[IdentityKey]:
    """Return the normalised identifiers a source event carries, strongest kind first.

    shop: session, shop account, customer e-mail, phone and social handles, order id; cms
    and consent: session, shop account (``customer_id``), e-mail; social: author handle;
    rfid: chip and order (linking the chip to the order's customer); privacy: shop account
    and e-mail (a privacy request is looked up with :func:`owners`, never resolved, so it
    cannot create or merge anyone).

    Args:
        topic: The source topic.
        record: The decoded event.

    Returns:
        Identity keys without duplicates, invalid values dropped.

    Raises:
        IdentityError: The topic carries no identifiers of people.
    """
    extractor = _EXTRACTORS.get(topic)
    if extractor is None:
        msg = f"topic {topic} carries no identifiers of people"
        raise IdentityError(msg)
    return extractor(record)


def add_identifiers(identities: dict[str, list[str]], keys: Iterable[IdentityKey]) -> None:
    """Add identifiers to a person's identifier lists (kind -> values, oldest first).

    Only the kinds of :data:`IDENTITY_NAMES` are kept; of sessions, the newest
    :data:`MAX_SESSIONS`, since every visit brings a new one.

    Args:
        identities: The person's lists; changed in place.
        keys: Identity keys, e.g. from :func:`identifiers_from`.
    """
    for key in keys:
        kind, value = kind_of(key), value_of(key)
        if kind in IDENTITY_NAMES and value not in identities.setdefault(kind, []):
            identities[kind].append(value)
    if len(identities.get("session", ())) > MAX_SESSIONS:
        identities["session"] = identities["session"][-MAX_SESSIONS:]
