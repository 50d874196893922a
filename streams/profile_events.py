"""How a profile changes: a source event added to it, and two profiles of one person merged.

A redelivered event changes nothing (each profile remembers the digests of its latest events),
and a merge counts nothing twice: neither the events both profiles saw nor the points both
scored. The profile itself, and its stored and published forms, are :mod:`streams.profile`.
"""

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from streams.identifiers import add_identifiers, identifiers_from
from streams.masterdata import apply_master_data, choose, master_data
from streams.normalize import normalize_keyword, to_epoch_ms
from streams.production import newer_status, status_of
from streams.profile import (
    LEAD_STATUSES,
    MAX_CONTACTS,
    MAX_SCORED_EVENTS,
    MAX_SEEN_EVENTS,
    Consent,
    Order,
    Profile,
    ProfileError,
)
from streams.rules import Rules
from streams.social import apply_post, combine, post_keywords

_MERGE = "merge"
"""Pseudo topic under which absorbed customer ids are remembered among the seen events."""


def _seen(profile: Profile, moment: datetime) -> None:
    """Widen first/last seen to include ``moment``."""
    if profile.first_seen_at is None or moment < profile.first_seen_at:
        profile.first_seen_at = moment
    if profile.last_seen_at is None or moment > profile.last_seen_at:
        profile.last_seen_at = moment


def _add_interests(profile: Profile, keywords: Iterable[str], weight: float, rules: Rules) -> None:
    if weight <= 0:
        return
    touched = set(filter(None, map(normalize_keyword, keywords)))
    for keyword in touched:
        # Re-inserted at the end: the dict's order is the order of last use.
        profile.interests[keyword] = profile.interests.pop(keyword, 0.0) + weight
    _bound_interests(profile, rules.interests.max_keywords, touched)


def _bound_interests(profile: Profile, limit: int, touched: Collection[str] = ()) -> None:
    """Keep ``limit`` interests: those just used, then the strongest, then the most recent.

    Keeping the keywords just used lets a new interest grow instead of being dropped at once.
    """
    if len(profile.interests) <= limit:
        return
    weights = profile.interests
    recency = {keyword: index for index, keyword in enumerate(weights)}
    ranked = sorted(weights, key=lambda k: (k in touched, weights[k], recency[k]), reverse=True)
    kept = set(ranked[:limit])
    profile.interests = {keyword: weights[keyword] for keyword in weights if keyword in kept}


def _apply_shop(profile: Profile, record: Mapping[str, Any], rules: Rules) -> None:
    occurred_at, event_type = record["occurred_at"], record["event_type"]
    _seen(profile, occurred_at)
    product, order = record.get("product"), record.get("order")
    categories = [product["category"]] if product else []
    categories += [item["category"] for item in (order or {}).get("items", ())]
    _add_interests(profile, categories, rules.interests.shop.get(event_type, 0.0), rules)
    if record.get("customer"):
        values = master_data(record["customer"])
        apply_master_data(profile.fields, values, "shop.events", occurred_at, rules.source_priority)
    if event_type == "order_placed" and order and order["order_id"] not in profile.orders:
        profile.orders[order["order_id"]] = Order(order["total"], order["currency"], occurred_at)


def _apply_cms(profile: Profile, record: Mapping[str, Any], rules: Rules) -> None:
    occurred_at = record["occurred_at"]
    _seen(profile, occurred_at)
    weight = rules.interests.cms.get(record["event_type"], 0.0)
    _add_interests(profile, record.get("keywords") or (), weight, rules)
    values = master_data({**(record.get("form") or {}), "email": record.get("email")})
    apply_master_data(profile.fields, values, "cms.events", occurred_at, rules.source_priority)


def _apply_social(profile: Profile, record: Mapping[str, Any], rules: Rules) -> None:
    _seen(profile, record["posted_at"])
    profile.social = apply_post(profile.social, record)
    _add_interests(profile, post_keywords(record), rules.interests.social_hashtag, rules)


def _apply_consent(profile: Profile, record: Mapping[str, Any], _rules: Rules) -> None:
    _seen(profile, record["occurred_at"])
    purpose, stated = record["purpose"], Consent(record["granted"], record["occurred_at"])
    profile.consent[purpose] = _newer_consent(profile.consent.get(purpose), stated)


def _newer_consent(current: Consent | None, candidate: Consent) -> Consent:
    """The later statement wins; at the same instant a refusal wins."""
    if current is None:
        return candidate
    return min(current, candidate, key=lambda state: (-to_epoch_ms(state.stated_at), state.granted))


def _apply_rfid(profile: Profile, record: Mapping[str, Any], _rules: Rules) -> None:
    """Production readings are not the person's activity: first/last seen stay as they are."""
    status = status_of(record)
    chips = profile.production
    chips[status.chip_id] = newer_status(chips.get(status.chip_id), status)


_HANDLERS: dict[str, Callable[[Profile, Mapping[str, Any], Rules], None]] = {
    "shop.events": _apply_shop,
    "cms.events": _apply_cms,
    "social.posts": _apply_social,
    "consent.events": _apply_consent,
    "rfid.production": _apply_rfid,
}


def remember_score(profile: Profile, topic: str, event_id: str, points: int) -> None:
    """Remember what an event scored, so a merge never counts it twice."""
    profile.scored_events[_event_digest(topic, event_id)] = points
    while len(profile.scored_events) > MAX_SCORED_EVENTS:
        profile.scored_events.pop(next(iter(profile.scored_events)))


def _event_digest(topic: str, event_id: str) -> str:
    return hashlib.blake2b(f"{topic}:{event_id}".encode(), digest_size=6).hexdigest()


def apply_event(
    profile: Profile, topic: str, record: Mapping[str, Any], rules: Rules, now: datetime
) -> bool:
    """Add one source event to the profile of the person it was resolved to.

    Args:
        profile: The person's profile; changed in place.
        topic: The source topic: shop, cms, social, consent or rfid events.
        record: The decoded event.
        rules: Interest weights and master-data source priority.
        now: Processing time, stored as ``updated_at`` when the profile changes.

    Returns:
        True when the profile changed; False for an event already applied (same
        ``event_id`` on the same topic), which changes nothing.

    Raises:
        ProfileError: The topic does not describe a person.
    """
    handler = _HANDLERS.get(topic)
    if handler is None:
        msg = f"events of {topic} do not describe a person and cannot change a profile"
        raise ProfileError(msg)
    digest = _event_digest(topic, record["event_id"])
    if digest in profile.seen_events:
        return False
    handler(profile, record, rules)
    add_identifiers(profile.identities, identifiers_from(topic, record))
    profile.seen_events = [*profile.seen_events, digest][-MAX_SEEN_EVENTS:]
    profile.updated_at = now
    return True


def has_absorbed(profile: Profile, customer_id: str) -> bool:
    """Whether the profile of ``customer_id`` was merged into ``profile`` already.

    Remembered like a processed event, so among the latest :data:`MAX_SEEN_EVENTS`.
    """
    return _event_digest(_MERGE, customer_id) in profile.seen_events


def merge_profiles(survivor: Profile, absorbed: Profile, rules: Rules) -> Profile:
    """Return one profile of a person who had two (see :class:`streams.identity.Merge`).

    Identities and interests are united (weights added), orders united by order id, the
    earliest first seen and latest last seen kept, master data chosen by source priority and
    recency, consent by the latest statement, processed events united; lead scores are
    added and the further lead status kept, with the earlier hand-over to sales; contact
    histories are united by job id and interest watches combined. What the API shows does
    not depend on which profile held what; only the id is the survivor's. Merging the same
    absorbed profile again changes nothing (see :func:`has_absorbed`).

    Args:
        survivor: The profile whose id survives.
        absorbed: The profile merged into it.
        rules: Source priority and the interest limit.

    Returns:
        A new profile; the inputs are not changed.
    """
    merged = Profile.from_dict(survivor.to_dict())
    if has_absorbed(survivor, absorbed.customer_id):
        return merged
    for name, value in absorbed.fields.items():
        merged.fields[name] = choose(merged.fields.get(name), value, rules.source_priority)
    for kind, values in absorbed.identities.items():
        add_identifiers(merged.identities, (f"{kind}:{value}" for value in values))
    for keyword, weight in absorbed.interests.items():
        merged.interests[keyword] = merged.interests.get(keyword, 0.0) + weight
    _bound_interests(merged, rules.interests.max_keywords)
    merged.orders = {**absorbed.orders, **merged.orders}
    for purpose, state in absorbed.consent.items():
        merged.consent[purpose] = _newer_consent(merged.consent.get(purpose), state)
    merged.social = combine(merged.social, absorbed.social)
    for chip, status in absorbed.production.items():
        merged.production[chip] = newer_status(merged.production.get(chip), status)
    for moment in (absorbed.first_seen_at, absorbed.last_seen_at):
        if moment is not None:
            _seen(merged, moment)
    merged.updated_at = max(filter(None, (survivor.updated_at, absorbed.updated_at)), default=None)
    counted_twice = sum(
        points
        for digest, points in absorbed.scored_events.items()
        if digest in survivor.scored_events
    )
    merged.lead_score = survivor.lead_score + absorbed.lead_score - counted_twice
    scored = {**absorbed.scored_events, **survivor.scored_events}
    merged.scored_events = dict(list(scored.items())[-MAX_SCORED_EVENTS:])
    merged.lead_status = max(survivor.lead_status, absorbed.lead_status, key=LEAD_STATUSES.index)
    merged.score_reasons = list(dict.fromkeys([*survivor.score_reasons, *absorbed.score_reasons]))
    merged.lead_at = min(filter(None, (survivor.lead_at, absorbed.lead_at)), default=None)
    contacts = {contact.job_id: contact for contact in [*absorbed.contacts, *merged.contacts]}
    by_time = sorted(contacts.values(), key=lambda contact: (contact.sent_at, contact.job_id))
    merged.contacts = by_time[-MAX_CONTACTS:]
    for category, watch in absorbed.interest_watch.items():
        current = merged.interest_watch.get(category)
        merged.interest_watch[category] = current.combine(watch) if current else watch
    known = set(merged.seen_events)
    merged.seen_events = [
        *merged.seen_events,
        *(digest for digest in absorbed.seen_events if digest not in known),
        _event_digest(_MERGE, absorbed.customer_id),
    ][-MAX_SEEN_EVENTS:]
    return merged
