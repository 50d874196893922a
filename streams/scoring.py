"""Lead scoring: points for what a person does in the CMS, and the lead status they earn.

Marketing hands a person to sales exactly once, when the score first reaches the sales-lead
threshold. Call :func:`score_event` right after :func:`streams.profile_events.apply_event` accepted
an event (returned True), so a redelivered event never scores twice.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.errors import JourneyhubError
from streams.normalize import normalize_keyword
from streams.profile import LEAD_STATUSES, Profile
from streams.profile_events import remember_score
from streams.rules import LeadScoring, Rules

MAX_SCORE_REASONS = 20
LEAD_ID_PREFIX = "lead-"


class ScoringError(JourneyhubError):
    """A lead record was asked for a person who has not become a lead."""


@dataclass(frozen=True)
class ScoreChange:
    """What one event did to a person's lead score and lead status.

    Attributes:
        points: Points the event earned; 0 for events that do not score.
        reasons: What earned them, e.g. ``download:cnt-trail-guide +10``.
        status_before: The lead status before the event.
        status: The lead status after it.
        crossed_sales_lead: True exactly once per person, for the event that brought the
            score to the sales-lead threshold: publish :func:`lead_record` now.
    """

    points: int
    reasons: tuple[str, ...]
    status_before: str
    status: str
    crossed_sales_lead: bool


def event_points(record: Mapping[str, Any], scoring: LeadScoring) -> list[tuple[str, int]]:
    """Return what a ``cms.events`` event earns: one ``(reason, points)`` per rule that pays.

    The event type pays its points (the reason names the content, e.g.
    ``download:cnt-trail-guide``), each distinct keyword its keyword points
    (``keyword:pricing``) and the content id its content points (``content:cnt-price-list``).

    Args:
        record: A decoded ``cms.events`` value.
        scoring: The lead-scoring rules.

    Returns:
        The paying parts, in rule order; empty for an event that earns nothing.
    """
    event_type, content_id = record["event_type"], record.get("content_id")
    parts: list[tuple[str, int]] = []
    if event_type in scoring.points:
        label = f"{event_type}:{content_id}" if content_id else event_type
        parts.append((label, scoring.points[event_type]))
    keywords = sorted({normalize_keyword(keyword) for keyword in record.get("keywords") or ()})
    parts += [
        (f"keyword:{keyword}", scoring.keyword_points[keyword])
        for keyword in keywords
        if keyword in scoring.keyword_points
    ]
    if content_id in scoring.content_points:
        parts.append((f"content:{content_id}", scoring.content_points[content_id]))
    return [(reason, points) for reason, points in parts if points > 0]


def status_for(profile: Profile, rules: Rules) -> str:
    """Return the lead status a profile has earned; it never falls back.

    A customer (shop account or order) is ``customer`` whatever the score; otherwise the
    score decides between ``prospect``, ``marketing_lead`` and ``sales_lead``.

    Args:
        profile: The person's profile.
        rules: The lead thresholds.

    Returns:
        One of :data:`streams.profile.LEAD_STATUSES`.
    """
    thresholds = rules.lead_scoring.thresholds
    if profile.is_customer:
        earned = "customer"
    elif profile.lead_score >= thresholds.sales_lead:
        earned = "sales_lead"
    elif profile.lead_score >= thresholds.marketing_lead:
        earned = "marketing_lead"
    else:
        earned = "prospect"
    return max(profile.lead_status, earned, key=LEAD_STATUSES.index)


def score_event(
    profile: Profile, topic: str, record: Mapping[str, Any], rules: Rules
) -> ScoreChange:
    """Add what one event earns to the profile: score, reasons, status, lead hand-over.

    Only ``cms.events`` earn points; every event may change the status (an order makes a
    customer). The first time the score is at or above the sales-lead threshold, the
    profile remembers the event time as ``lead_at`` and the change says
    ``crossed_sales_lead``; later events never cross again, however high the score climbs.

    Args:
        profile: The person's profile, right after ``apply_event`` accepted the event;
            changed in place.
        topic: The event's source topic.
        record: The decoded event.
        rules: Points and thresholds.

    Returns:
        What changed.
    """
    before = profile.lead_status
    earned = event_points(record, rules.lead_scoring) if topic == "cms.events" else []
    points = sum(points for _, points in earned)
    reasons = tuple(f"{reason} +{points}" for reason, points in earned)
    profile.lead_score += points
    if points:
        remember_score(profile, topic, record["event_id"], points)
    profile.score_reasons = [*profile.score_reasons, *reasons][-MAX_SCORE_REASONS:]
    crossed = hand_over_if_due(profile, rules, _event_time(record))
    return ScoreChange(points, reasons, before, profile.lead_status, crossed)


def hand_over_if_due(profile: Profile, rules: Rules, moment: datetime) -> bool:
    """Update the status; True when the person becomes a sales lead for the first time.

    Called after an event scored, and after two profiles of one person merged: their
    scores add up, and the merged profile may reach the threshold that neither reached
    alone. ``moment`` becomes ``lead_at``, remembered so the lead is handed over once.
    """
    profile.lead_status = status_for(profile, rules)
    crossed = (
        profile.lead_at is None and profile.lead_score >= rules.lead_scoring.thresholds.sales_lead
    )
    if crossed:
        profile.lead_at = moment
    return crossed


def _event_time(record: Mapping[str, Any]) -> datetime:
    moment: datetime = record.get("occurred_at") or record["posted_at"]
    return moment


def lead_id(customer_id: str) -> str:
    """Return the lead id of a person: the same customer, the same id, however often asked."""
    return LEAD_ID_PREFIX + customer_id


def lead_record(profile: Profile) -> dict[str, Any]:
    """Return the ``crm.leads`` value for a person who crossed the sales-lead threshold.

    Every field comes from the profile, so a replay of the crossing yields the same record;
    ``created_at`` is the event time at which the person became a lead.

    Args:
        profile: A profile whose :func:`score_event` reported ``crossed_sales_lead``.

    Returns:
        The record, keyed by ``customer_id`` on ``crm.leads``.

    Raises:
        ScoringError: The person has not reached the sales-lead threshold.
    """
    if profile.lead_at is None:
        msg = (
            f"customer {profile.customer_id} has {profile.lead_score} points and is no lead "
            "yet; publish a lead only when score_event reports crossed_sales_lead"
        )
        raise ScoringError(msg)
    emails = profile.identities.get("email", [])
    return {
        "lead_id": lead_id(profile.customer_id),
        "customer_id": profile.customer_id,
        "score": profile.lead_score,
        "reasons": list(profile.score_reasons),
        "lead_status": profile.lead_status,
        "email": profile.value("email") or (emails[-1] if emails else None),
        "created_at": profile.lead_at,
    }
