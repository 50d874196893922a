import json
from datetime import timedelta
from typing import Any

import pytest

from streams.campaigns import CampaignSummary, Segment, matches, run_campaign
from streams.contact import Channel, Decision, Job, SuppressionReason, derive_job_id, record_contact
from streams.profile import Profile
from streams.profile_events import apply_event
from streams.scoring import score_event
from tests.streams.test_profile import RULES, at, cms, consent, customer, order, product_view

NOW = at(24 * 60)


def request(channel: str = "mail", **segment: Any) -> dict[str, Any]:
    return {
        "campaign_id": "cmp-run-2026",
        "name": "Einladung zum Stadtlauf",
        "channel": channel,
        "template": "run_invitation",
        "segment": {
            "interests_any": [],
            "lead_status_any": [],
            "postal_code_prefixes": [],
            "countries": [],
            "min_orders": None,
            "exclude_contacted_within_days": None,
            **segment,
        },
        "responsible": "marketing@example.org",
        "requested_at": at(0),
    }


def build(*events: tuple[str, dict[str, Any]], customer_id: str) -> Profile:
    """A profile as the pipeline builds it: each event applied, then scored."""
    profile = Profile(customer_id)
    for topic, record in events:
        if apply_event(profile, topic, record, RULES, at(0)):
            score_event(profile, topic, record, RULES)
    return profile


def runner(customer_id: str, *events: tuple[str, dict[str, Any]], **fields: Any) -> Profile:
    """A customer in Dresden who looked at running shoes."""
    shop_order = order("e1", "O-" + customer_id, "129.90") | {"customer": customer(**fields)}
    return build(
        ("shop.events", product_view("v1", "Running Shoes")),
        ("shop.events", shop_order),
        *events,
        customer_id=customer_id,
    )


def earlier_mail(profile: Profile, hours_ago: int) -> None:
    planned = Job("earlier", profile.customer_id, Channel.MAIL, "newsletter", "News")
    record_contact(profile, planned, RULES, NOW - timedelta(hours=hours_ago))


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ({}, True),
        ({"interests_any": ["running shoes", "camping"]}, True),
        ({"interests_any": ["camping"]}, False),
        ({"lead_status_any": ["customer"]}, True),
        ({"lead_status_any": ["sales_lead"]}, False),
        ({"postal_code_prefixes": ["01", "04"]}, True),
        ({"postal_code_prefixes": ["1"]}, False),
        ({"countries": ["de"]}, True),
        ({"countries": ["AT"]}, False),
        ({"min_orders": 1}, True),
        ({"min_orders": 2}, False),
    ],
)
def test_a_person_matches_when_every_given_criterion_holds(
    segment: dict[str, Any], expected: bool
) -> None:
    assert matches(runner("c-1"), Segment.from_record(request(**segment)["segment"])) is expected


def test_a_person_without_postal_code_does_not_match_a_postal_code_prefix() -> None:
    prospect = build(("cms.events", cms("c1", "download")), customer_id="p-1")

    assert not matches(prospect, Segment(postal_code_prefixes=("0",)))


def test_a_segment_campaign_reaches_the_segment_and_suppresses_with_reasons() -> None:
    welcome = runner("c-welcome")
    refused = runner("c-refused", ("consent.events", consent("k1", "marketing_email", False, 5)))
    mailed_today = runner("c-mailed-today")
    earlier_mail(mailed_today, hours_ago=2)
    mailed_last_week = runner("c-mailed-last-week")
    earlier_mail(mailed_last_week, hours_ago=24 * 6)
    no_email = runner("c-no-email", email=None)
    prospect = build(
        ("shop.events", product_view("v1", "running_shoes")),
        ("cms.events", cms("c1", "download")),
        customer_id="p-prospect",
    )
    camper = build(("shop.events", product_view("v1", "camping")), customer_id="c-camper")
    profiles = [welcome, refused, mailed_today, mailed_last_week, no_email, prospect, camper]

    jobs, summary = run_campaign(request(interests_any=["running_shoes"]), profiles, RULES, NOW)

    assert sorted(job.customer_id for job in jobs) == ["c-mailed-last-week", "c-welcome"]
    assert (summary.matched, summary.sent) == (6, 2)
    assert summary.suppressed == {
        SuppressionReason.NO_CONSENT: 2,
        SuppressionReason.CAPPED: 1,
        SuppressionReason.NO_ADDRESS: 1,
    }
    assert welcome.contacts[-1].campaign_id == "cmp-run-2026"


def test_people_contacted_within_the_given_days_are_left_out() -> None:
    recent = runner("c-1")
    earlier_mail(recent, hours_ago=24 * 6)

    jobs, summary = run_campaign(request(exclude_contacted_within_days=7), [recent], RULES, NOW)

    assert jobs == []
    assert summary.suppressed == {SuppressionReason.RECENTLY_CONTACTED: 1}


def test_a_repeated_campaign_request_sends_nobody_a_second_time() -> None:
    profiles = [runner("c-1"), runner("c-2")]
    first, _ = run_campaign(request(), profiles, RULES, NOW)

    again, summary = run_campaign(request(), profiles, RULES, NOW + timedelta(days=3))

    assert [job.job_id for job in first] == [
        derive_job_id("campaign", "cmp-run-2026", "c-1"),
        derive_job_id("campaign", "cmp-run-2026", "c-2"),
    ]
    assert again == []
    assert summary.suppressed == {SuppressionReason.ALREADY_RECEIVED: 2}


def test_a_print_campaign_plans_letters_under_print_consent() -> None:
    refused_print = runner("c-2", ("consent.events", consent("k1", "marketing_print", False, 5)))
    earlier_mail(refused_print, hours_ago=1)

    jobs, summary = run_campaign(request("print"), [runner("c-1"), refused_print], RULES, NOW)

    assert [(job.customer_id, job.channel) for job in jobs] == [("c-1", Channel.PRINT)]
    assert summary.suppressed == {SuppressionReason.NO_CONSENT: 1}
    # The letter names its campaign and who answers for it, for alerts about its devices.
    assert {k: jobs[0].variables[k] for k in ("campaign_id", "responsible")} == {
        "campaign_id": "cmp-run-2026",
        "responsible": "marketing@example.org",
    }


def test_partial_summaries_add_up_to_the_campaign_summary() -> None:
    one, other = CampaignSummary.of(request()), CampaignSummary.of(request())
    one.count(Decision(send=True))
    one.count(Decision(False, SuppressionReason.CAPPED))
    other.count(Decision(False, SuppressionReason.CAPPED))
    other.count(Decision(False, SuppressionReason.NO_ADDRESS))

    total = json.loads(one.combine(other).to_json())

    assert (total["campaign_id"], total["matched"], total["sent"]) == ("cmp-run-2026", 4, 1)
    assert total["suppressed"] == {
        "no_consent": 0,
        "no_address": 1,
        "capped": 2,
        "already_received": 0,
        "recently_contacted": 0,
    }
    assert total["requested_at"] == "2026-03-01T09:00:00.000Z"


def test_a_partial_summary_kept_in_a_table_reads_back_the_same() -> None:
    part = CampaignSummary.of(request())
    part.count(Decision(send=True))
    part.count(Decision(False, SuppressionReason.NO_CONSENT))

    assert CampaignSummary.from_record(json.loads(part.to_json())) == part
