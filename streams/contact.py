"""Contact rules: whether a planned mail or letter may reach a person, and what it becomes.

Triggers and campaigns plan jobs; this module decides each one against consent, the
contact cap and the address, remembers what was sent on the profile, and builds the
``outbound.mail`` / ``outbound.print`` records. A suppressed job always has a reason.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from streams.errors import JourneyhubError
from streams.profile import MAX_CONTACTS, Contact, Profile, effective_consent
from streams.rules import Rules
from streams.salutation import address_lines, letter_salutation

POSTAL_FIELDS = ("street", "postal_code", "city", "country")


class ContactError(JourneyhubError):
    """A message record was asked for a person it cannot reach."""


class Channel(StrEnum):
    """How a job reaches the person."""

    MAIL = "mail"
    PRINT = "print"

    @property
    def topic(self) -> str:
        """The topic the job's record goes to."""
        return f"outbound.{self.value}"

    @property
    def consent_purpose(self) -> str:
        """The consent a marketing message on this channel needs."""
        return "marketing_email" if self is Channel.MAIL else "marketing_print"


class SuppressionReason(StrEnum):
    """Why a job was not sent; the closed set of ``suppressed{reason}`` metric labels."""

    NO_CONSENT = "no_consent"
    NO_ADDRESS = "no_address"
    CAPPED = "capped"
    ALREADY_RECEIVED = "already_received"
    RECENTLY_CONTACTED = "recently_contacted"


@dataclass(frozen=True)
class Job:
    """A message planned for one person, before the contact rules decide on it.

    Attributes:
        job_id: Derived from the cause (:func:`derive_job_id`), so a redelivered cause
            yields the same id and no second message.
        customer_id: The recipient.
        channel: Mail or letter.
        template: Template name; the rules' transactional templates are service messages.
        subject: Subject line of a mail.
        variables: Template variables.
        trigger_event_id: The event that caused the job, when one did.
        campaign_id: The segment campaign the job belongs to, if any.
    """

    job_id: str
    customer_id: str
    channel: Channel
    template: str
    subject: str
    variables: Mapping[str, str] = field(default_factory=dict)
    trigger_event_id: str | None = None
    campaign_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """Whether a job is sent; ``reason`` says why not (None when it is sent)."""

    send: bool
    reason: SuppressionReason | None = None


SEND = Decision(send=True)


def derive_job_id(*cause: str) -> str:
    """Return a job id from what caused the job: the same cause, the same id.

    Args:
        cause: The parts naming the cause, e.g. ``("cross_sell", order_id, sku)``.

    Returns:
        The SHA-256 of the parts joined by ``|``, in hex.
    """
    return hashlib.sha256("|".join(cause).encode("utf-8")).hexdigest()


def is_marketing(job: Job, rules: Rules) -> bool:
    """Whether the job is marketing; the rules' transactional templates are not."""
    return job.template not in rules.contact.transactional_templates


def email_address(profile: Profile) -> str | None:
    """Return the address a mail goes to: the master-data e-mail, else the newest known."""
    emails = profile.identities.get("email", [])
    return profile.value("email") or (emails[-1] if emails else None)


def has_postal_address(profile: Profile) -> bool:
    """Whether a letter can reach the person: a name, street, postal code, city, country."""
    return bool(_name_lines(profile)) and all(profile.value(name) for name in POSTAL_FIELDS)


def decide(profile: Profile, job: Job, rules: Rules, now: datetime) -> Decision:
    """Decide whether a job may be sent (CONTRACT section 7).

    In this order: a job sent before is not sent again (``already_received``); marketing
    needs consent to its channel's purpose, as stated or by the rules' default for
    customers and prospects (``no_consent``); every message needs an e-mail or a complete
    postal address (``no_address``); marketing mails are capped per person and window
    (``capped``). Transactional templates skip consent and cap.

    Args:
        profile: The recipient's profile with its contact history.
        job: The planned job.
        rules: Consent defaults, the cap and the transactional templates.
        now: When the job would be sent.

    Returns:
        The decision; record a sent job with :func:`record_contact`.
    """
    marketing = is_marketing(job, rules)
    if any(contact.job_id == job.job_id for contact in profile.contacts):
        return Decision(send=False, reason=SuppressionReason.ALREADY_RECEIVED)
    if marketing and not effective_consent(profile, job.channel.consent_purpose, rules):
        return Decision(send=False, reason=SuppressionReason.NO_CONSENT)
    reachable = (
        email_address(profile) if job.channel is Channel.MAIL else has_postal_address(profile)
    )
    if not reachable:
        return Decision(send=False, reason=SuppressionReason.NO_ADDRESS)
    if marketing and job.channel is Channel.MAIL and _capped(profile, rules, now):
        return Decision(send=False, reason=SuppressionReason.CAPPED)
    return SEND


def _capped(profile: Profile, rules: Rules, now: datetime) -> bool:
    cap = rules.contact.marketing_mail_cap
    since = now - cap.window
    recent = [
        contact
        for contact in profile.contacts
        if contact.marketing and contact.channel == Channel.MAIL and contact.sent_at > since
    ]
    return len(recent) >= cap.max


def contacted_within(profile: Profile, period: timedelta, now: datetime) -> bool:
    """Whether the person was sent any message within ``period`` before ``now``."""
    return any(contact.sent_at > now - period for contact in profile.contacts)


def record_contact(profile: Profile, job: Job, rules: Rules, now: datetime) -> None:
    """Remember on the profile that ``job`` was sent; the oldest entries beyond the limit go.

    Args:
        profile: The recipient's profile; changed in place.
        job: A job :func:`decide` let through.
        rules: The transactional templates, to tell marketing from service messages.
        now: When it was sent.
    """
    contact = Contact(
        job.job_id, job.template, job.channel.value, is_marketing(job, rules), job.campaign_id, now
    )
    profile.contacts = [*profile.contacts, contact][-MAX_CONTACTS:]


def _name_lines(profile: Profile) -> list[str]:
    return address_lines(*_name(profile))


def _name(profile: Profile) -> tuple[str | None, str | None, str | None, str | None]:
    return (
        profile.value("gender"),
        profile.value("title"),
        profile.value("first_name"),
        profile.value("last_name"),
    )


def outbound_record(profile: Profile, job: Job, now: datetime) -> dict[str, Any]:
    """Return the ``outbound.mail`` or ``outbound.print`` value of a job (``job.channel.topic``).

    Args:
        profile: The recipient's profile: address, name and salutation.
        job: The job, after :func:`decide` let it through.
        now: The record's ``created_at``.

    Returns:
        The record, keyed by ``job_id``.

    Raises:
        ContactError: The person has no e-mail address (mail) or no complete postal
            address (letter); :func:`decide` reports that as ``no_address`` first.
    """
    common = {
        "job_id": job.job_id,
        "customer_id": job.customer_id,
        "template": job.template,
        "salutation": letter_salutation(*_name(profile)),
        "variables": dict(job.variables),
        "created_at": now,
    }
    if job.channel is Channel.MAIL:
        to = email_address(profile)
        if to is None:
            msg = f"job {job.job_id}: customer {job.customer_id} has no e-mail address"
            raise ContactError(msg)
        return {
            **common,
            "to": to,
            "subject": job.subject,
            "trigger_event_id": job.trigger_event_id,
        }
    if not has_postal_address(profile):
        msg = f"job {job.job_id}: customer {job.customer_id} has no complete postal address"
        raise ContactError(msg)
    postal = {name: profile.value(name) for name in POSTAL_FIELDS}
    return {**common, "address": {"lines": _name_lines(profile), **postal}}
