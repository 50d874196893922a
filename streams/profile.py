"""The customer-360 profile: everything known about one person, and the forms it takes.

A profile holds identities, master data, interests, orders, consent, social mood,
production and what the person was sent; the agent keeps it as :meth:`Profile.to_dict`,
publishes it as :meth:`Profile.to_record` and the API serves :meth:`Profile.to_api`. How
source events and merges change it is :mod:`streams.profile_events`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.errors import JourneyhubError
from streams.identifiers import IDENTITY_NAMES
from streams.masterdata import MASTER_FIELDS, FieldValue
from streams.normalize import from_epoch_ms, iso_utc, to_epoch_ms
from streams.production import ChipStatus
from streams.rules import Rules
from streams.salutation import letter_salutation, salutation
from streams.social import SocialStats

LEAD_STATUSES = ("prospect", "marketing_lead", "sales_lead", "customer")
MAX_SEEN_EVENTS = 1000
MAX_CONTACTS = 100
MAX_SIGNALS = 10
MAX_SCORED_EVENTS = 200
"""Scored events a profile remembers the points of, for merges."""
_CENT = Decimal("0.01")
_ORDER_FIELDS = ("count", "total", "currency", "last_order_at")


class ProfileError(JourneyhubError):
    """An event of a topic that does not describe a person was applied to a profile."""


@dataclass(frozen=True)
class Order:
    """One order of the person, kept by id so that no order is counted twice."""

    total: Decimal
    currency: str
    placed_at: datetime


@dataclass(frozen=True)
class Consent:
    """What the person last said about one purpose, and when."""

    granted: bool
    stated_at: datetime


@dataclass(frozen=True)
class Contact:
    """A message sent to the person; the history behind contact caps (streams.contact)."""

    job_id: str
    template: str
    channel: str
    marketing: bool
    campaign_id: str | None
    sent_at: datetime

    def to_list(self) -> list[Any]:
        """Return the contact as a JSON-able list, the time as epoch milliseconds."""
        return [
            self.job_id,
            self.template,
            self.channel,
            self.marketing,
            self.campaign_id,
            to_epoch_ms(self.sent_at),
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> "Contact":
        """Rebuild a contact from :meth:`to_list`."""
        job_id, template, channel, marketing, campaign_id, sent = data
        return cls(job_id, template, channel, marketing, campaign_id, from_epoch_ms(sent))


@dataclass(frozen=True)
class InterestWatch:
    """Event times of interest in one product category since ``reset_at`` (streams.triggers).

    ``reset_at`` is the latest order of the category or the end of the window that last
    produced a mail; signals up to it no longer count. At most :data:`MAX_SIGNALS` per kind.
    """

    views: tuple[datetime, ...] = ()
    downloads: tuple[datetime, ...] = ()
    reset_at: datetime | None = None

    def combine(self, other: "InterestWatch") -> "InterestWatch":
        """Return the watch of a person whose two profiles watched the same category."""
        resets = [moment for moment in (self.reset_at, other.reset_at) if moment is not None]
        return InterestWatch(
            tuple(sorted({*self.views, *other.views}))[-MAX_SIGNALS:],
            tuple(sorted({*self.downloads, *other.downloads}))[-MAX_SIGNALS:],
            max(resets, default=None),
        )

    def to_list(self) -> list[Any]:
        """Return the watch as JSON-able epoch milliseconds."""
        return [
            [*map(to_epoch_ms, self.views)],
            [*map(to_epoch_ms, self.downloads)],
            _ms(self.reset_at),
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> "InterestWatch":
        """Rebuild a watch from :meth:`to_list`."""
        views, downloads, reset_at = data
        return cls(
            tuple(map(from_epoch_ms, views)),
            tuple(map(from_epoch_ms, downloads)),
            _moment(reset_at),
        )


@dataclass
class Profile:
    """The customer-360 profile of one person (CONTRACT section 4)."""

    customer_id: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    identities: dict[str, list[str]] = field(default_factory=dict)
    interests: dict[str, float] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    consent: dict[str, Consent] = field(default_factory=dict)
    social: SocialStats = field(default_factory=SocialStats)
    production: dict[str, ChipStatus] = field(default_factory=dict)
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    updated_at: datetime | None = None
    lead_score: int = 0
    lead_status: str = "prospect"
    score_reasons: list[str] = field(default_factory=list)
    seen_events: list[str] = field(default_factory=list)
    """48-bit digests of the latest processed events (topic and id), oldest first; ≤ 1,000."""
    lead_at: datetime | None = None
    """Event time at which the person was handed to sales as a lead; None before."""
    scored_events: dict[str, int] = field(default_factory=dict)
    """Points of the latest scored events by digest, oldest first; ≤ :data:`MAX_SCORED_EVENTS`.

    A merge subtracts the points of events both profiles scored: after a crash, a replayed
    event can reach the survivor before the absorbed profile that already scored it."""
    contacts: list[Contact] = field(default_factory=list)
    """Messages sent to the person, oldest first; ≤ :data:`MAX_CONTACTS`."""
    interest_watch: dict[str, InterestWatch] = field(default_factory=dict)
    """Product category to the signals of interest in it."""

    def value(self, name: str) -> str | None:
        """The master-data value of field ``name``, or None when unknown."""
        current = self.fields.get(name)
        return current.value if current else None

    @property
    def is_customer(self) -> bool:
        """Whether the person has a shop account or has ordered (not only a prospect)."""
        return bool(self.orders or self.identities.get("shop_customer"))

    def orders_summary(self) -> tuple[int, Decimal, str | None, datetime | None]:
        """Count, total, currency and time of the last order.

        The total adds up the orders in the currency of the newest order; orders in other
        currencies are counted but not added.
        """
        if not self.orders:
            return 0, Decimal("0.00"), None, None
        newest = max(self.orders.values(), key=lambda order: order.placed_at)
        total = sum(
            (order.total for order in self.orders.values() if order.currency == newest.currency),
            Decimal(0),
        )
        return len(self.orders), total.quantize(_CENT), newest.currency, newest.placed_at

    def _view(self) -> dict[str, Any]:
        """The API view with native values: datetimes and Decimals stay as they are."""
        gender = self.value("gender") or "unknown"
        first, last, title = self.value("first_name"), self.value("last_name"), self.value("title")
        fallback = self.updated_at or self.last_seen_at or self.first_seen_at
        return {
            "customer_id": self.customer_id,
            "salutation": salutation(gender),
            "letter_salutation": letter_salutation(gender, title, first, last),
            **{name: self.value(name) for name in MASTER_FIELDS},
            "gender": gender,
            "field_sources": {name: value.source_topic for name, value in self.fields.items()},
            "identities": {
                api_name: sorted(self.identities.get(kind, ()))
                for kind, api_name in IDENTITY_NAMES.items()
            },
            "interests": dict(sorted(self.interests.items(), key=lambda item: (-item[1], item[0]))),
            "orders": dict(zip(_ORDER_FIELDS, self.orders_summary(), strict=True)),
            "lead_score": self.lead_score,
            "lead_status": self.lead_status,
            "consent": {purpose: state.granted for purpose, state in sorted(self.consent.items())},
            "social": self.social.to_api(),
            "production": [self.production[chip].to_api() for chip in sorted(self.production)],
            "first_seen_at": self.first_seen_at or fallback,
            "last_seen_at": self.last_seen_at or fallback,
            "updated_at": fallback,
        }

    def to_api(self) -> dict[str, Any]:
        """Return the JSON body of ``GET /customers/{customer_id}`` (CONTRACT section 4)."""
        view = self._view()
        orders = view["orders"]
        orders["total"] = str(orders["total"])
        orders["last_order_at"] = _iso(orders["last_order_at"])
        for name in ("first_seen_at", "last_seen_at", "updated_at"):
            view[name] = _iso(view[name])
        return view

    def to_record(self) -> dict[str, Any]:
        """Return the value for ``customer360.profiles`` (``schemas/...profiles.avsc``)."""
        return self._view()

    def to_dict(self) -> dict[str, Any]:
        """Return the whole state as a JSON-able dict for a Faust table."""
        return {
            "customer_id": self.customer_id,
            "fields": {name: value.to_dict() for name, value in self.fields.items()},
            "identities": {kind: list(values) for kind, values in self.identities.items()},
            "interests": dict(self.interests),
            "orders": {
                order_id: [str(order.total), order.currency, to_epoch_ms(order.placed_at)]
                for order_id, order in self.orders.items()
            },
            "consent": {
                purpose: [state.granted, to_epoch_ms(state.stated_at)]
                for purpose, state in self.consent.items()
            },
            "social": self.social.to_dict(),
            "production": {chip: status.to_dict() for chip, status in self.production.items()},
            "first_seen_at": _ms(self.first_seen_at),
            "last_seen_at": _ms(self.last_seen_at),
            "updated_at": _ms(self.updated_at),
            "lead_score": self.lead_score,
            "lead_status": self.lead_status,
            "score_reasons": list(self.score_reasons),
            "seen_events": list(self.seen_events),
            "lead_at": _ms(self.lead_at),
            "scored_events": dict(self.scored_events),
            "contacts": [contact.to_list() for contact in self.contacts],
            "interest_watch": {
                category: watch.to_list() for category, watch in self.interest_watch.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Profile":
        """Rebuild a profile from :meth:`to_dict`."""
        return cls(
            customer_id=data["customer_id"],
            fields={name: FieldValue.from_dict(value) for name, value in data["fields"].items()},
            identities={kind: list(values) for kind, values in data["identities"].items()},
            interests=dict(data["interests"]),
            orders={
                order_id: Order(Decimal(total), currency, from_epoch_ms(placed))
                for order_id, (total, currency, placed) in data["orders"].items()
            },
            consent={
                purpose: Consent(granted, from_epoch_ms(stated))
                for purpose, (granted, stated) in data["consent"].items()
            },
            social=SocialStats.from_dict(data["social"]),
            production={
                chip: ChipStatus.from_dict(status) for chip, status in data["production"].items()
            },
            first_seen_at=_moment(data["first_seen_at"]),
            last_seen_at=_moment(data["last_seen_at"]),
            updated_at=_moment(data["updated_at"]),
            lead_score=data["lead_score"],
            lead_status=data["lead_status"],
            score_reasons=list(data["score_reasons"]),
            seen_events=list(data["seen_events"]),
            lead_at=_moment(data.get("lead_at")),
            scored_events=dict(data.get("scored_events", {})),
            contacts=[Contact.from_list(contact) for contact in data.get("contacts", ())],
            interest_watch={
                category: InterestWatch.from_list(watch)
                for category, watch in data.get("interest_watch", {}).items()
            },
        )


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_epoch_ms(moment)


def _moment(millis: int | None) -> datetime | None:
    return None if millis is None else from_epoch_ms(millis)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def effective_consent(profile: Profile, purpose: str, rules: Rules) -> bool:
    """Whether the person consents to ``purpose``: as stated, else the rules' default.

    Args:
        profile: The person's profile.
        purpose: ``personalization``, ``marketing_email``, ``marketing_print`` or
            ``analytics``.
        rules: The consent defaults for customers and prospects.

    Returns:
        The stated consent, or the default for a customer or a prospect.
    """
    stated = profile.consent.get(purpose)
    if stated is not None:
        return stated.granted
    return rules.contact.consent_defaults.assumed(purpose, is_customer=profile.is_customer)
