"""Segment campaigns: who a ``campaign.requests`` mailing is for, and who actually gets it.

Marketing describes a segment ("everyone who ever looked at running shoes"); every matching
person gets one job unless their state makes it irrelevant or unwelcome, and the summary
says how many were matched, sent and suppressed by reason, so nobody is dropped silently.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas import job_variables
from streams.contact import (
    Channel,
    Decision,
    Job,
    SuppressionReason,
    contacted_within,
    decide,
    derive_job_id,
    record_contact,
)
from streams.normalize import iso_utc, normalize_country, normalize_keyword
from streams.profile import Profile
from streams.rules import Rules


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for; an empty criterion matches anyone (CONTRACT section 2).

    Attributes:
        interests_any: Normalised interest keywords; any one of them matches.
        lead_status_any: Lead statuses; any one of them matches.
        postal_code_prefixes: Beginnings of postal codes; any one of them matches.
        countries: ISO 3166-1 alpha-2 codes, upper case.
        min_orders: Matches a person with at least this many orders.
        exclude_contacted_within_days: Suppresses a matching person who was sent any
            message within this many days (``recently_contacted``).
    """

    interests_any: frozenset[str] = frozenset()
    lead_status_any: frozenset[str] = frozenset()
    postal_code_prefixes: tuple[str, ...] = ()
    countries: frozenset[str] = frozenset()
    min_orders: int | None = None
    exclude_contacted_within_days: int | None = None

    @classmethod
    def from_record(cls, segment: Mapping[str, Any]) -> "Segment":
        """Read the ``segment`` of a ``campaign.requests`` value, normalising its values."""
        return cls(
            frozenset(filter(None, map(normalize_keyword, segment.get("interests_any") or ()))),
            frozenset(segment.get("lead_status_any") or ()),
            tuple(prefix.strip().upper() for prefix in segment.get("postal_code_prefixes") or ()),
            frozenset(filter(None, map(normalize_country, segment.get("countries") or ()))),
            segment.get("min_orders"),
            segment.get("exclude_contacted_within_days"),
        )


def matches(profile: Profile, segment: Segment) -> bool:
    """Whether a person belongs to the segment: every non-empty criterion holds.

    Args:
        profile: The person's profile.
        segment: The campaign's segment.

    Returns:
        True when interests, lead status, postal code, country and order count fit.
    """
    postal_code = (profile.value("postal_code") or "").upper()
    return (
        (not segment.interests_any or bool(segment.interests_any & profile.interests.keys()))
        and (not segment.lead_status_any or profile.lead_status in segment.lead_status_any)
        and (
            not segment.postal_code_prefixes
            or (bool(postal_code) and postal_code.startswith(segment.postal_code_prefixes))
        )
        and (not segment.countries or profile.value("country") in segment.countries)
        and (segment.min_orders is None or len(profile.orders) >= segment.min_orders)
    )


def campaign_job(request: Mapping[str, Any], customer_id: str) -> Job:
    """Return the job of one person in a campaign; its id is derived from campaign and person.

    Args:
        request: A decoded ``campaign.requests`` value.
        customer_id: The recipient.

    Returns:
        The job on the campaign's channel, with the campaign name as subject; its variables
        name the campaign and its responsible (who hears of failures of its letters).
    """
    return Job(
        derive_job_id("campaign", request["campaign_id"], customer_id),
        customer_id,
        Channel(request["channel"]),
        request["template"],
        request["name"],
        {
            job_variables.CAMPAIGN_ID: request["campaign_id"],
            job_variables.CAMPAIGN_NAME: request["name"],
            job_variables.RESPONSIBLE: request["responsible"],
        },
        campaign_id=request["campaign_id"],
    )


def target(
    request: Mapping[str, Any], profile: Profile, rules: Rules, now: datetime
) -> tuple[Job, Decision] | None:
    """Decide about one person for a campaign.

    A person who already received the campaign is ``already_received``; one contacted
    within the segment's ``exclude_contacted_within_days`` is ``recently_contacted``;
    everyone else is decided by the contact rules (:func:`streams.contact.decide`).

    Args:
        request: A decoded ``campaign.requests`` value.
        profile: The person's profile.
        rules: The contact rules.
        now: When the campaign is sent.

    Returns:
        The person's job and the decision on it; None when the person is not in the segment.
    """
    segment = Segment.from_record(request["segment"])
    if not matches(profile, segment):
        return None
    job = campaign_job(request, profile.customer_id)
    decision = decide(profile, job, rules, now)
    days = segment.exclude_contacted_within_days
    if (
        decision.reason is not SuppressionReason.ALREADY_RECEIVED
        and days is not None
        and contacted_within(profile, timedelta(days=days), now)
    ):
        decision = Decision(send=False, reason=SuppressionReason.RECENTLY_CONTACTED)
    return job, decision


@dataclass
class CampaignSummary:
    """How a campaign went: people matched, jobs sent, and suppressed ones by reason.

    Published as JSON at ``GET /campaigns/{campaign_id}`` and counted in metrics; partial
    summaries (one per partition of profiles) add up with :meth:`combine`.
    """

    campaign_id: str
    name: str
    channel: str
    template: str
    requested_at: datetime
    matched: int = 0
    sent: int = 0
    suppressed: dict[SuppressionReason, int] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Mapping[str, Any]) -> "CampaignSummary":
        """Return the empty summary of a ``campaign.requests`` value."""
        return cls(
            request["campaign_id"],
            request["name"],
            request["channel"],
            request["template"],
            request["requested_at"],
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "CampaignSummary":
        """Rebuild a summary from :meth:`to_record`, e.g. one partition's part from a table."""
        return cls(
            record["campaign_id"],
            record["name"],
            record["channel"],
            record["template"],
            datetime.fromisoformat(record["requested_at"]),
            record["matched"],
            record["sent"],
            {
                SuppressionReason(reason): count
                for reason, count in record["suppressed"].items()
                if count
            },
        )

    def count(self, decision: Decision) -> None:
        """Count one matched person and what was decided about them."""
        self.matched += 1
        if decision.send:
            self.sent += 1
        elif decision.reason is not None:
            self.suppressed[decision.reason] = self.suppressed.get(decision.reason, 0) + 1

    def combine(self, other: "CampaignSummary") -> "CampaignSummary":
        """Return the summary of both parts of the same campaign."""
        suppressed = {
            reason: self.suppressed.get(reason, 0) + other.suppressed.get(reason, 0)
            for reason in SuppressionReason
            if reason in self.suppressed or reason in other.suppressed
        }
        return CampaignSummary(
            self.campaign_id,
            self.name,
            self.channel,
            self.template,
            self.requested_at,
            self.matched + other.matched,
            self.sent + other.sent,
            suppressed,
        )

    def to_record(self) -> dict[str, Any]:
        """Return the JSON-able summary; every suppression reason is listed, zeros included."""
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "channel": self.channel,
            "template": self.template,
            "requested_at": iso_utc(self.requested_at),
            "matched": self.matched,
            "sent": self.sent,
            "suppressed": {
                reason.value: self.suppressed.get(reason, 0) for reason in SuppressionReason
            },
        }

    def to_json(self) -> str:
        """Return :meth:`to_record` as a JSON document."""
        return json.dumps(self.to_record(), ensure_ascii=False, sort_keys=True)


def run_campaign(
    request: Mapping[str, Any], profiles: Iterable[Profile], rules: Rules, now: datetime
) -> tuple[list[Job], CampaignSummary]:
    """Send a campaign to the profiles given (all, or one partition's), one job per person.

    Args:
        request: A decoded ``campaign.requests`` value.
        profiles: The profiles to consider; each one that is sent a job records it in its
            contact history (changed in place: store those profiles again).
        rules: The contact rules.
        now: When the campaign is sent.

    Returns:
        The jobs to publish (build records with :func:`streams.contact.outbound_record`)
        and the summary.
    """
    summary = CampaignSummary.of(request)
    jobs = []
    for profile in profiles:
        targeted = target(request, profile, rules, now)
        if targeted is None:
            continue
        job, decision = targeted
        summary.count(decision)
        if decision.send:
            record_contact(profile, job, rules, now)
            jobs.append(job)
    return jobs, summary
