from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import SingleObjectCodec
from streams.profile import Profile
from streams.profile_events import apply_event, merge_profiles
from streams.rules import Rules
from streams.scoring import (
    MAX_SCORE_REASONS,
    ScoreChange,
    ScoringError,
    lead_record,
    score_event,
)
from tests.streams.test_profile import NOW, RULES, at, cms, order

SEEDS = [
    ("download", "cnt-trail-guide", 0),
    ("survey_answered", "srv-1", 10),
    ("email_opened", "mail-1", 20),
    ("webinar_clicked", "web-1", 30),
]


def process(
    profile: Profile, topic: str, record: dict[str, Any], rules: Rules = RULES
) -> ScoreChange | None:
    """What the pipeline does per event: apply it, and score it when it was new."""
    if not apply_event(profile, topic, record, rules, NOW):
        return None
    return score_event(profile, topic, record, rules)


def seed_events() -> list[dict[str, Any]]:
    return [
        cms(f"c{index}", event_type, minutes, content_id=content_id)
        for index, (event_type, content_id, minutes) in enumerate(SEEDS)
    ]


def test_the_seed_journey_makes_a_sales_lead_once_it_reaches_fifty_points() -> None:
    profile = Profile("c-1")
    changes = [process(profile, "cms.events", event) for event in seed_events()]

    assert [change.status for change in changes if change] == [
        "prospect",
        "marketing_lead",
        "marketing_lead",
        "sales_lead",
    ]
    assert [change.crossed_sales_lead for change in changes if change] == [
        False,
        False,
        False,
        True,
    ]
    assert profile.lead_score == 70
    assert profile.score_reasons == [
        "download:cnt-trail-guide +10",
        "survey_answered:srv-1 +20",
        "email_opened:mail-1 +10",
        "webinar_clicked:web-1 +30",
    ]


def test_the_lead_record_carries_score_and_reasons_and_fits_the_topic() -> None:
    profile = Profile("c-1")
    for event in seed_events():
        process(profile, "cms.events", event)

    record = lead_record(profile)

    assert record["lead_id"] == "lead-c-1"
    assert (record["score"], record["lead_status"]) == (70, "sales_lead")
    assert record["email"] == "erika@example.de"
    assert record["created_at"] == at(30)
    codec = SingleObjectCodec()
    assert codec.decode("crm.leads", codec.encode("crm.leads", record)) == record


def test_exactly_one_lead_however_high_the_score_climbs() -> None:
    profile = Profile("c-1")
    events = seed_events() + [cms(f"more{n}", "webinar_clicked", 40 + n) for n in range(20)]

    crossings = [process(profile, "cms.events", event) for event in events]

    assert sum(1 for change in crossings if change and change.crossed_sales_lead) == 1
    assert profile.lead_score == 70 + 20 * 30
    assert lead_record(profile)["created_at"] == at(30)


def test_a_redelivered_event_scores_once() -> None:
    profile = Profile("c-1")
    download = cms("c1", "download")

    assert process(profile, "cms.events", download) is not None
    assert process(profile, "cms.events", download) is None
    assert profile.lead_score == 10
    assert profile.score_reasons == ["download:whitepaper-1 +10"]


def test_a_replay_after_a_crash_yields_the_same_lead_record() -> None:
    first, replayed = Profile("c-1"), Profile("c-1")
    for event in seed_events():
        process(first, "cms.events", event)
    for event in seed_events() + seed_events():
        process(replayed, "cms.events", event)

    assert lead_record(replayed) == lead_record(first)


def test_events_without_points_change_nothing_but_the_status_rule() -> None:
    profile = Profile("c-1")
    change = process(profile, "cms.events", cms("c1", "content_view"))

    assert change == ScoreChange(0, (), "prospect", "prospect", crossed_sales_lead=False)
    assert profile.score_reasons == []


def test_keyword_and_content_points_are_added_with_their_reasons() -> None:
    scoring = RULES.lead_scoring.model_copy(
        update={"keyword_points": {"road_bike": 5, "pricing": 7}, "content_points": {"price": 15}}
    )
    rules = RULES.model_copy(update={"lead_scoring": scoring})
    profile = Profile("c-1")
    event = cms("c1", "download", content_id="price", keywords=["Road Bike", "road_bike", "x"])

    change = process(profile, "cms.events", event, rules)

    assert change is not None
    assert change.points == 10 + 5 + 15
    assert change.reasons == ("download:price +10", "keyword:road_bike +5", "content:price +15")


def test_an_order_makes_a_customer_whatever_the_score_and_customer_stays() -> None:
    profile = Profile("c-1")
    process(profile, "cms.events", cms("c1", "survey_answered"))
    change = process(profile, "shop.events", order("o1", "O-1", "99.90", minutes=5))

    assert change is not None
    assert (change.status_before, change.status) == ("marketing_lead", "customer")
    for event in seed_events():
        process(profile, "cms.events", event)
    assert profile.lead_status == "customer"


def test_a_customer_reaching_the_threshold_is_handed_to_sales_as_a_customer() -> None:
    profile = Profile("c-1")
    process(profile, "shop.events", order("o1", "O-1", "99.90"))
    crossed = [process(profile, "cms.events", event) for event in seed_events()]

    assert [change.crossed_sales_lead for change in crossed if change].count(True) == 1
    assert lead_record(profile)["lead_status"] == "customer"


def test_no_lead_record_before_the_threshold() -> None:
    profile = Profile("c-1")
    process(profile, "cms.events", cms("c1", "download"))

    with pytest.raises(ScoringError, match="c-1 has 10 points and is no lead yet"):
        lead_record(profile)


def test_reasons_are_bounded_to_the_latest() -> None:
    profile = Profile("c-1")
    for index in range(MAX_SCORE_REASONS + 5):
        process(profile, "cms.events", cms(f"c{index}", "download", content_id=f"d{index}"))

    assert len(profile.score_reasons) == MAX_SCORE_REASONS
    assert profile.score_reasons[-1] == f"download:d{MAX_SCORE_REASONS + 4} +10"


def test_two_profiles_of_one_person_merge_without_a_second_lead() -> None:
    survivor, absorbed = Profile("c-1"), Profile("c-2")
    for event in seed_events():
        process(survivor, "cms.events", event)
        process(absorbed, "cms.events", event | {"event_id": "other-" + event["event_id"]})

    merged = merge_profiles(survivor, absorbed, RULES)
    change = process(merged, "cms.events", cms("c9", "webinar_clicked", 50))

    assert change is not None and not change.crossed_sales_lead
    assert merged.lead_at == at(30)


def test_two_halves_below_the_threshold_cross_with_the_next_event_after_merging() -> None:
    survivor, absorbed = Profile("c-1"), Profile("c-2")
    process(survivor, "cms.events", cms("c1", "webinar_clicked", 0))
    process(absorbed, "cms.events", cms("c2", "survey_answered", 5))

    merged = merge_profiles(survivor, absorbed, RULES)
    change = process(merged, "cms.events", cms("c3", "content_view", 10))

    assert change is not None and change.crossed_sales_lead
    assert lead_record(merged)["score"] == 50


_EVENT_TYPES = st.sampled_from(
    ["download", "survey_answered", "email_opened", "webinar_clicked", "content_view"]
)


@given(st.lists(_EVENT_TYPES, max_size=12), st.randoms(use_true_random=False))
def test_score_and_status_do_not_depend_on_the_order_of_events(
    event_types: list[str], random: Any
) -> None:
    events = [cms(f"c{index}", kind, index) for index, kind in enumerate(event_types)]
    shuffled = random.sample(events, len(events))
    in_order, out_of_order = Profile("c-1"), Profile("c-1")

    crossings = [process(in_order, "cms.events", event) for event in events]
    for event in shuffled:
        process(out_of_order, "cms.events", event)

    points: dict[str, int] = {kind: n for kind, n in RULES.lead_scoring.points.items()}
    expected = sum(points.get(kind, 0) for kind in event_types)
    assert in_order.lead_score == out_of_order.lead_score == expected
    assert in_order.lead_status == out_of_order.lead_status
    assert sum(1 for change in crossings if change and change.crossed_sales_lead) == (
        1 if expected >= 50 else 0
    )


def test_a_merge_never_counts_an_event_both_profiles_scored() -> None:
    download = cms("dl-shared", "download")
    first, second = Profile("c-first"), Profile("c-second")
    for profile in (first, second):
        score_event(profile, "cms.events", download, RULES)
    merged = merge_profiles(first, second, RULES)
    assert first.lead_score == second.lead_score == 10
    assert merged.lead_score == 10
