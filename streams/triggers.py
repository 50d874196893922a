"""Trigger mails: interest in a product category, a companion of an ordered product, surveys.

Each trigger plans a mail job whose id is derived from its cause, so a replay plans the same
jobs; the contact rules (:mod:`streams.contact`) decide whether each is sent. Interest is
judged in event time: :func:`observe_event` collects the signals as events arrive, and a
periodic sweep calls :func:`due_interest_triggers` for the windows that passed without an order.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from streams.contact import Channel, Job, derive_job_id
from streams.normalize import iso_utc, normalize_keyword
from streams.profile import MAX_SIGNALS, InterestWatch, Profile
from streams.rules import ProductInterestTrigger, Rules

MAX_WATCHED_CATEGORIES = 20
SAMPLE_BUCKETS = 10_000


def observe_event(
    profile: Profile, topic: str, record: Mapping[str, Any], rules: Rules
) -> list[Job]:
    """Note what one event means for the triggers; plan the mails an order causes at once.

    A product view or a download about a category is a signal of interest in it; an order
    ends the interest in the categories it contains (no product-interest mail for them) and
    plans a ``cross_sell`` mail per configured companion that was not ordered with it, and
    a ``survey_invitation`` mail when the order is in the sample.

    Call it right after :func:`streams.profile_events.apply_event` accepted the event (returned
    True), so a redelivered event is not counted twice.

    Args:
        profile: The person's profile; its interest watch is changed in place.
        topic: The event's source topic; only shop and cms events matter here.
        record: The decoded event.
        rules: The trigger rules.

    Returns:
        The jobs planned by the event, for :func:`streams.contact.decide`.
    """
    event_type = record.get("event_type")
    if topic == "cms.events" and event_type == "download":
        for keyword in record.get("keywords") or ():
            _signal(profile, keyword, "downloads", record["occurred_at"], rules)
        return []
    if topic != "shop.events":
        return []
    product, order = record.get("product"), record.get("order")
    if event_type == "product_view" and product:
        _signal(profile, product["category"], "views", record["occurred_at"], rules)
    if event_type != "order_placed" or not order:
        return []
    for item in order["items"]:
        _end_interest(profile, item["category"], record["occurred_at"], rules)
    jobs = cross_sell_jobs(profile.customer_id, record, rules)
    survey = survey_job(profile.customer_id, record, rules)
    return [*jobs, survey] if survey else jobs


def _watched(category: str, rules: Rules) -> str | None:
    """The normalised category, or None when the rules do not watch it."""
    name = normalize_keyword(category)
    watched = rules.triggers.product_interest.categories
    return name if name and (not watched or name in watched) else None


def _put(profile: Profile, category: str, watch: InterestWatch) -> None:
    """Store a watch as the most recently active one; the least active beyond the limit go."""
    profile.interest_watch.pop(category, None)
    profile.interest_watch[category] = watch
    for stale in list(profile.interest_watch)[:-MAX_WATCHED_CATEGORIES]:
        del profile.interest_watch[stale]


def _signal(profile: Profile, category: str, kind: str, at: datetime, rules: Rules) -> None:
    """Add a ``views`` or ``downloads`` signal of ``category`` at event time ``at``."""
    trigger = rules.triggers.product_interest
    counted = trigger.min_product_views if kind == "views" else trigger.min_downloads
    name = _watched(category, rules)
    if name is None or not counted:
        return
    watch = profile.interest_watch.get(name, InterestWatch())
    if watch.reset_at is None or at > watch.reset_at:
        if kind == "views":
            watch = replace(watch, views=_with(watch.views, at))
        else:
            watch = replace(watch, downloads=_with(watch.downloads, at))
    _put(profile, name, watch)


def _with(times: tuple[datetime, ...], at: datetime) -> tuple[datetime, ...]:
    return tuple(sorted({*times, at}))[-MAX_SIGNALS:]


def _end_interest(profile: Profile, category: str, at: datetime, rules: Rules) -> None:
    """Forget the signals of ``category`` up to ``at``: an order or a mail answered them."""
    name = _watched(category, rules)
    if name is None:
        return
    watch = profile.interest_watch.get(name, InterestWatch())
    if watch.reset_at is not None and watch.reset_at >= at:
        return
    views = tuple(moment for moment in watch.views if moment > at)
    downloads = tuple(moment for moment in watch.downloads if moment > at)
    _put(profile, name, InterestWatch(views, downloads, reset_at=at))


def interest_since(watch: InterestWatch, trigger: ProductInterestTrigger) -> datetime | None:
    """Return the event time at which the watched signals first showed interest, or None.

    Interest is ``min_product_views`` views or ``min_downloads`` downloads after the
    watch's ``reset_at``; a minimum of 0 means that kind of signal does not count.

    Args:
        watch: The signals of one category.
        trigger: The product-interest rule.

    Returns:
        The time of the signal that completed the interest: the start of the window.
    """
    starts = []
    for times, needed in (
        (watch.views, trigger.min_product_views),
        (watch.downloads, trigger.min_downloads),
    ):
        counted = [moment for moment in times if watch.reset_at is None or moment > watch.reset_at]
        if needed and len(counted) >= needed:
            starts.append(counted[needed - 1])
    return min(starts, default=None)


def interest_window_end(profile: Profile, trigger: ProductInterestTrigger) -> datetime | None:
    """When the first of the profile's open product-interest windows ends; None if none is open.

    That is when :func:`due_interest_triggers` first plans a mail for the profile, so the sweep
    need not look at it before then.
    """
    ends = [
        since + trigger.window
        for watch in profile.interest_watch.values()
        if (since := interest_since(watch, trigger)) is not None
    ]
    return min(ends, default=None)


def due_interest_triggers(profile: Profile, now: datetime, rules: Rules) -> list[Job]:
    """Plan a ``product_interest`` mail for every category whose window passed without an order.

    The window starts when the signals first showed interest (event time) and lasts the
    rule's ``window_hours`` or ``window_seconds``. A planned category's signals up to the
    end of its window no longer count, so each interest yields one mail; new signals after
    it may show a new interest. The job id is derived from customer, category and window
    start, so a replay plans the same job.

    Args:
        profile: The person's profile; its interest watch is changed in place.
        now: The sweep's time; windows that end at or before it are due.
        rules: The product-interest rule.

    Returns:
        The jobs, ordered by category.
    """
    trigger = rules.triggers.product_interest
    jobs = []
    for category in sorted(profile.interest_watch):
        since = interest_since(profile.interest_watch[category], trigger)
        if since is None or since + trigger.window > now:
            continue
        _end_interest(profile, category, since + trigger.window, rules)
        job_id = derive_job_id("product_interest", profile.customer_id, category, iso_utc(since))
        variables = {"category": category}
        jobs.append(
            Job(
                job_id,
                profile.customer_id,
                Channel.MAIL,
                trigger.template,
                trigger.subject,
                variables,
            )
        )
    return jobs


def cross_sell_jobs(customer_id: str, record: Mapping[str, Any], rules: Rules) -> list[Job]:
    """Plan one ``cross_sell`` mail per companion of the products in an order.

    A companion is configured by SKU or by product category (the SKU wins); a companion
    that was ordered along with its partner is not offered.

    Args:
        customer_id: The buyer.
        record: A decoded ``order_placed`` event of ``shop.events``.
        rules: The companion table.

    Returns:
        The jobs; each id is derived from order id and companion SKU.
    """
    companions = rules.triggers.cross_sell.companions
    by_category = {normalize_keyword(key): companion for key, companion in companions.items()}
    order = record["order"]
    ordered = {item["sku"] for item in order["items"]}
    jobs: dict[str, Job] = {}
    for item in order["items"]:
        companion = companions.get(item["sku"]) or by_category.get(
            normalize_keyword(item["category"])
        )
        if companion is None or companion.sku in ordered or companion.sku in jobs:
            continue
        variables = {
            "order_id": order["order_id"],
            "ordered_sku": item["sku"],
            "ordered_product": item["name"],
            "product_sku": companion.sku,
            "product_name": companion.name,
        }
        jobs[companion.sku] = Job(
            derive_job_id("cross_sell", order["order_id"], companion.sku),
            customer_id,
            Channel.MAIL,
            companion.template,
            companion.subject,
            variables,
            trigger_event_id=record["event_id"],
        )
    return list(jobs.values())


def in_survey_sample(order_id: str, sample_pct: float) -> bool:
    """Whether an order is in the survey sample: decided by a hash of its id, so stable.

    Args:
        order_id: The order's id.
        sample_pct: The share of orders to sample, 0 to 100.

    Returns:
        True for about ``sample_pct`` percent of all order ids, always the same ones.
    """
    digest = hashlib.sha256(f"survey|{order_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % SAMPLE_BUCKETS
    return bucket < round(sample_pct * SAMPLE_BUCKETS / 100)


def survey_job(customer_id: str, record: Mapping[str, Any], rules: Rules) -> Job | None:
    """Plan a ``survey_invitation`` mail when the order is in the sample.

    Args:
        customer_id: The buyer.
        record: A decoded ``order_placed`` event of ``shop.events``.
        rules: The survey rule.

    Returns:
        The job (id derived from the order id), or None for an order outside the sample.
    """
    survey = rules.triggers.survey_invitation
    order_id = record["order"]["order_id"]
    if not in_survey_sample(order_id, survey.sample_pct):
        return None
    return Job(
        derive_job_id("survey_invitation", order_id),
        customer_id,
        Channel.MAIL,
        survey.template,
        survey.subject,
        {"order_id": order_id},
        trigger_event_id=record["event_id"],
    )
