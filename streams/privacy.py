"""GDPR data-subject requests: hand a person everything stored about them, or erase it.

The data-protection office sends ``privacy.requests``; the answer on ``privacy.responses``
must hold all stored data (access) or confirm that nothing identifying is left (erasure).

Later events of an erased identifier: erasure is not an objection, and a person may come
back, so a later event creates a fresh profile that knows nothing of the erased one. That
person is a prospect again, so marketing needs fresh consent unless they order. Only an
objection the person stated before the erasure (a refused ``marketing_email`` or
``marketing_print``) outlives it: the refused purposes and their times are kept under
SHA-256 hashes of the person's e-mails, phones, shop accounts and handles, without any
readable identifier, and :func:`honour_objections` gives a fresh profile with such an
identifier that refusal again. Keeping this minimal suppression list is how an objection
to direct marketing is honoured (GDPR Art. 21(3), Art. 17(3)(b)); erasing it would let
marketing resume as soon as the person buys again.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.errors import JourneyhubError
from streams.identifiers import IdentityKey
from streams.normalize import from_epoch_ms, to_epoch_ms
from streams.profile import Consent, Profile

MARKETING_PURPOSES = ("marketing_email", "marketing_print")
# Identifier kinds a returning person is recognised by; sessions, chips and orders are not.
OBJECTION_KINDS = ("email", "phone", "shop_customer", "handle")


class PrivacyError(JourneyhubError):
    """A privacy request was answered with the function for another request type."""


@dataclass(frozen=True)
class Objection:
    """Marketing purposes a person refused before erasure, with the time of each refusal."""

    refused: Mapping[str, datetime]

    def to_dict(self) -> dict[str, int]:
        """Return the refusals as purpose to epoch milliseconds, for a table."""
        return {purpose: to_epoch_ms(moment) for purpose, moment in self.refused.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> "Objection":
        """Rebuild an objection from :meth:`to_dict`."""
        return cls({purpose: from_epoch_ms(millis) for purpose, millis in data.items()})


@dataclass(frozen=True)
class Erasure:
    """What erasing a person means for the worker's state and topics.

    Attributes:
        customer_ids: Profiles to delete: table entries, born-table entries, aliases
            pointing at them, and a tombstone on ``customer360.profiles`` for each (the CRM
            connector deletes the contact on it).
        identity_keys: Identity-table entries to delete: every identifier of the person,
            order ids included.
        objections: Suppression-list entries to keep, by :func:`suppression_key`.
        response: The ``privacy.responses`` value confirming the erasure.
    """

    customer_ids: tuple[str, ...]
    identity_keys: tuple[IdentityKey, ...]
    objections: dict[str, Objection]
    response: dict[str, Any]

    def to_json(self) -> bytes:
        """Return the erasure as JSON, to hand it to the identity resolver as a command."""
        response = {**self.response, "completed_at": to_epoch_ms(self.response["completed_at"])}
        return json.dumps(
            {
                "customer_ids": list(self.customer_ids),
                "identity_keys": list(self.identity_keys),
                "objections": {key: value.to_dict() for key, value in self.objections.items()},
                "response": response,
            },
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> "Erasure":
        """Rebuild an erasure from :meth:`to_json`."""
        parsed = json.loads(data)
        response = parsed["response"]
        return cls(
            tuple(parsed["customer_ids"]),
            tuple(parsed["identity_keys"]),
            {key: Objection.from_dict(value) for key, value in parsed["objections"].items()},
            {**response, "completed_at": from_epoch_ms(response["completed_at"])},
        )


def suppression_key(key: IdentityKey) -> str:
    """Return the hashed form under which an objection is kept for an identifier.

    Args:
        key: A normalised identity key such as ``email:erika@example.de``.

    Returns:
        The SHA-256 of the key, in hex; the identifier cannot be read from it.
    """
    return hashlib.sha256(f"suppression|{key}".encode()).hexdigest()


def identity_keys(profile: Profile) -> list[IdentityKey]:
    """Return every identity key that points at the profile, order ids included."""
    keys = [f"{kind}:{value}" for kind, values in profile.identities.items() for value in values]
    return sorted([*keys, *(f"order:{order_id}" for order_id in profile.orders)])


def _response(
    request: Mapping[str, Any], profiles: Sequence[Profile], data: str | None, now: datetime
) -> dict[str, Any]:
    ids = sorted(profile.customer_id for profile in profiles)
    return {
        "request_id": request["request_id"],
        "customer_id": ids[0] if ids else None,
        "type": request["type"],
        "status": "completed" if profiles else "not_found",
        "data": data,
        "completed_at": now,
    }


def _expect(request: Mapping[str, Any], request_type: str) -> None:
    if request["type"] != request_type:
        msg = (
            f"privacy request {request['request_id']} asks for {request['type']}, "
            f"not {request_type}; answer it with the matching function"
        )
        raise PrivacyError(msg)


def access_response(
    profiles: Sequence[Profile], request: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Answer an access request with everything stored about the person.

    ``data`` is a JSON document with, per profile, the profile as the API shows it and the
    whole stored state: master data with source and time, identities, orders, consent
    statements with their times, interests, lead score and reasons, contact history and
    interest signals.

    Args:
        profiles: The profiles the request's identifiers lead to (usually one; none when
            the person is unknown).
        request: A decoded ``privacy.requests`` value of type ``access``.
        now: The response's ``completed_at``.

    Returns:
        The ``privacy.responses`` value: ``completed`` with data, or ``not_found``.

    Raises:
        PrivacyError: The request is not an access request.
    """
    _expect(request, "access")
    if not profiles:
        return _response(request, profiles, None, now)
    stored = [
        {"profile": profile.to_api(), "stored": profile.to_dict()}
        for profile in sorted(profiles, key=lambda profile: profile.customer_id)
    ]
    data = json.dumps({"profiles": stored}, ensure_ascii=False, sort_keys=True)
    return _response(request, profiles, data, now)


def erase(profiles: Sequence[Profile], request: Mapping[str, Any], now: datetime) -> Erasure:
    """Plan the erasure of a person: what to delete, what objection to keep, the answer.

    Args:
        profiles: The profiles the request's identifiers lead to (none when unknown).
        request: A decoded ``privacy.requests`` value of type ``erasure``.
        now: The response's ``completed_at``.

    Returns:
        The erasure; ``not_found`` with nothing to delete when no profile is given.

    Raises:
        PrivacyError: The request is not an erasure request.
    """
    _expect(request, "erasure")
    keys = sorted({key for profile in profiles for key in identity_keys(profile)})
    objections = {}
    for profile in profiles:
        refused = {
            purpose: state.stated_at
            for purpose in MARKETING_PURPOSES
            if (state := profile.consent.get(purpose)) is not None and not state.granted
        }
        if refused:
            for key in identity_keys(profile):
                if key.partition(":")[0] in OBJECTION_KINDS:
                    objections[suppression_key(key)] = Objection(refused)
    return Erasure(
        tuple(sorted(profile.customer_id for profile in profiles)),
        tuple(keys),
        objections,
        _response(request, profiles, None, now),
    )


def honour_objections(profile: Profile, objections: Mapping[str, Objection]) -> bool:
    """Give a profile the marketing refusals its person stated before an erasure.

    A refusal counts like a consent statement at its original time, so a newer consent
    the person gives after coming back still wins.

    Args:
        profile: A profile, e.g. one just created for an identifier seen again.
        objections: The suppression list, by :func:`suppression_key`.

    Returns:
        True when the profile's consent changed.
    """
    changed = False
    for key in identity_keys(profile):
        objection = objections.get(suppression_key(key))
        for purpose, refused_at in (objection.refused if objection else {}).items():
            current = profile.consent.get(purpose)
            if current is None or current.stated_at < refused_at:
                profile.consent[purpose] = Consent(granted=False, stated_at=refused_at)
                changed = True
    return changed
