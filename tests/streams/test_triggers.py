import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from streams.contact import Channel, Job
from streams.profile import Profile
from streams.profile_events import apply_event, merge_profiles
from streams.rules import Rules
from streams.triggers import (
    due_interest_triggers,
    in_survey_sample,
    observe_event,
)
from tests.streams.test_profile import RULES, at, cms, customer, product_view, shop

WINDOW = timedelta(seconds=90)
NO_SURVEYS = RULES.triggers.survey_invitation.model_copy(update={"sample_pct": 0.0})


def rules_with(window: timedelta = WINDOW, **interest: Any) -> Rules:
    """The packaged rules with a short interest window (as a test configuration sets it)."""
    product_interest = RULES.triggers.product_interest.model_copy(
        update={"window_hours": None, "window_seconds": window.total_seconds(), **interest}
    )
    triggers = RULES.triggers.model_copy(
        update={"product_interest": product_interest, "survey_invitation": NO_SURVEYS}
    )
    return RULES.model_copy(update={"triggers": triggers})


SHORT = rules_with()


def item(sku: str, category: str, name: str = "Artikel") -> dict[str, Any]:
    return {"sku": sku, "name": name, "category": category, "quantity": 1, "unit_price": Decimal(1)}


def placed(
    event_id: str, order_id: str, *items: dict[str, Any], minutes: int = 0
) -> dict[str, Any]:
    order = {"order_id": order_id, "items": list(items), "total": Decimal(1), "currency": "EUR"}
    return shop(
        event_id, "order_placed", minutes, customer_id="42", order=order, customer=customer()
    )


def process(
    profile: Profile, topic: str, record: dict[str, Any], rules: Rules = SHORT
) -> list[Job]:
    """What the pipeline does per event: apply it, and observe it when it was new."""
    if not apply_event(profile, topic, record, rules, at(0)):
        return []
    return observe_event(profile, topic, record, rules)


def viewed_twice(rules: Rules = SHORT, category: str = "road_bike") -> Profile:
    profile = Profile("c-1")
    process(profile, "shop.events", product_view("v1", category, minutes=0), rules)
    process(profile, "shop.events", product_view("v2", category, minutes=1), rules)
    return profile


def test_two_views_without_an_order_plan_one_interest_mail_when_the_window_ends() -> None:
    profile = viewed_twice()
    window_start = at(1)

    assert due_interest_triggers(profile, window_start + WINDOW - timedelta(seconds=1), SHORT) == []
    (job,) = due_interest_triggers(profile, window_start + WINDOW, SHORT)

    assert (job.channel, job.template, job.customer_id) == (Channel.MAIL, "product_interest", "c-1")
    assert job.variables == {"category": "road_bike"}
    assert due_interest_triggers(profile, window_start + 10 * WINDOW, SHORT) == []


def test_one_view_is_not_yet_interest() -> None:
    profile = Profile("c-1")
    process(profile, "shop.events", product_view("v1", minutes=0))

    assert due_interest_triggers(profile, at(60), SHORT) == []


def test_a_download_about_the_category_is_interest() -> None:
    profile = Profile("c-1")
    process(profile, "cms.events", cms("d1", "download", 0, keywords=["Road Bike"]))

    (job,) = due_interest_triggers(profile, at(0) + WINDOW, SHORT)
    assert job.variables == {"category": "road_bike"}


def test_downloads_do_not_count_when_the_rule_says_zero() -> None:
    rules = rules_with(min_downloads=0)
    profile = Profile("c-1")
    process(profile, "cms.events", cms("d1", "download", 0, keywords=["road_bike"]), rules)

    assert due_interest_triggers(profile, at(60), rules) == []


def test_an_order_of_the_category_within_the_window_cancels_the_mail() -> None:
    profile = viewed_twice()
    process(profile, "shop.events", placed("o1", "O-1", item("RB-1", "Road Bike"), minutes=2))

    assert due_interest_triggers(profile, at(60), SHORT) == []


def test_an_order_of_another_category_does_not_cancel_it() -> None:
    profile = viewed_twice()
    process(profile, "shop.events", placed("o1", "O-1", item("SB-1", "sleeping_bags"), minutes=2))

    assert [job.variables["category"] for job in due_interest_triggers(profile, at(60), SHORT)] == [
        "road_bike"
    ]


def test_an_order_that_arrives_before_the_older_views_still_cancels() -> None:
    profile = Profile("c-1")
    process(profile, "shop.events", placed("o1", "O-1", item("RB-1", "road_bike"), minutes=5))
    process(profile, "shop.events", product_view("v1", minutes=0))
    process(profile, "shop.events", product_view("v2", minutes=1))

    assert due_interest_triggers(profile, at(60), SHORT) == []


def test_interest_after_the_window_is_a_new_interest_with_a_new_job() -> None:
    profile = viewed_twice()
    (first,) = due_interest_triggers(profile, at(60), SHORT)
    process(profile, "shop.events", product_view("v3", minutes=70))
    assert due_interest_triggers(profile, at(200), SHORT) == []
    process(profile, "shop.events", product_view("v4", minutes=71))

    (second,) = due_interest_triggers(profile, at(200), SHORT)
    assert second.job_id != first.job_id


def test_a_replay_plans_the_same_interest_job() -> None:
    first, replayed = viewed_twice(), viewed_twice()
    process(replayed, "shop.events", product_view("v1", minutes=0))

    assert due_interest_triggers(first, at(60), SHORT) == due_interest_triggers(
        replayed, at(60), SHORT
    )


def test_the_rules_may_limit_the_watched_categories() -> None:
    rules = rules_with(categories=["road_bike"])
    profile = Profile("c-1")
    keywords = ["road_bike", "bikefit"]
    process(profile, "cms.events", cms("d1", "download", 0, keywords=keywords), rules)

    assert [job.variables for job in due_interest_triggers(profile, at(60), rules)] == [
        {"category": "road_bike"}
    ]


def test_the_watch_survives_storage_and_a_merge_with_anonymous_browsing() -> None:
    anonymous = viewed_twice()
    restored = Profile.from_dict(json.loads(json.dumps(anonymous.to_dict())))
    assert restored.interest_watch == anonymous.interest_watch
    buyer = Profile("c-2")

    merged = merge_profiles(buyer, restored, SHORT)

    assert [job.customer_id for job in due_interest_triggers(merged, at(60), SHORT)] == ["c-2"]


def test_an_order_of_a_road_bike_plans_one_mail_offering_the_pedals() -> None:
    profile = Profile("c-1")
    order = placed("o1", "O-1", item("RB-1", "road_bike", "Renner"), item("RB-2", "road_bike"))

    (job,) = process(profile, "shop.events", order)

    assert (job.template, job.trigger_event_id) == ("cross_sell", "o1")
    assert job.variables["product_sku"] == "PEDAL-CLIPLESS-01"
    assert job.variables["ordered_product"] == "Renner"
    assert job.subject == RULES.triggers.cross_sell.companions["road_bike"].subject


def test_no_cross_sell_when_the_companion_was_ordered_along() -> None:
    profile = Profile("c-1")
    order = placed("o1", "O-1", item("RB-1", "road_bike"), item("PEDAL-CLIPLESS-01", "pedals"))

    assert process(profile, "shop.events", order) == []


def test_a_companion_configured_by_sku_wins_over_the_category() -> None:
    cross_sell = RULES.triggers.cross_sell
    by_sku = cross_sell.companions["road_bike"].model_copy(update={"sku": "SHOE-WAX"})
    companions = {**cross_sell.companions, "RB-1": by_sku}
    triggers = SHORT.triggers.model_copy(
        update={"cross_sell": cross_sell.model_copy(update={"companions": companions})}
    )
    rules = SHORT.model_copy(update={"triggers": triggers})

    jobs = process(
        Profile("c-1"), "shop.events", placed("o1", "O-1", item("RB-1", "road_bike")), rules
    )

    assert [job.variables["product_sku"] for job in jobs] == ["SHOE-WAX"]


def test_survey_sample_is_close_to_ten_percent_of_ten_thousand_orders() -> None:
    sampled = sum(in_survey_sample(f"ord-{number:06d}", 10) for number in range(10_000))

    assert 900 <= sampled <= 1100


def test_survey_sample_is_none_or_all_at_the_ends() -> None:
    ids = [f"ord-{number}" for number in range(500)]

    assert not any(in_survey_sample(order_id, 0) for order_id in ids)
    assert all(in_survey_sample(order_id, 100) for order_id in ids)


def test_a_replayed_order_picks_the_same_people_for_the_survey() -> None:
    orders = [placed(f"e{n}", f"ord-{n}", item("X", "socks")) for n in range(200)]

    def surveyed() -> list[str]:
        profiles = [Profile("c-1") for _ in orders]
        jobs = [
            job
            for profile, record in zip(profiles, orders, strict=True)
            for job in process(profile, "shop.events", record, RULES)
        ]
        assert {job.template for job in jobs} == {"survey_invitation"}
        return [job.job_id for job in jobs]

    first = surveyed()
    assert first == surveyed()
    assert 5 <= len(first) <= 40
