"""Crash drill: the worker is killed with SIGKILL five times while it processes a workload.

Nothing is committed or flushed at a SIGKILL, so events are redelivered after each restart.
Afterwards profiles, order counts, budget actuals and leads must equal the generator's
ground truth exactly: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import math
import os
import random
import time
from decimal import Decimal
from urllib.parse import quote

import pytest

from schemas.codec import make_codec
from streams.inspect import Inspector
from streams.settings import STATE_STORES, Settings
from streams.workload import GroundTruth, build_workload
from tests.drills.drilltools import (
    Component,
    produce_workload,
    read_topic,
    wait_until_healthy,
    worker,
    worker_url,
)
from tests.workertools import http_get

pytestmark = pytest.mark.slow

EVENTS = int(os.environ.get("JOURNEYHUB_DRILL_EVENTS", "2000"))
KILLS = 5
SEED = 2026
STALL = 120.0
"""Seconds the worker may go without bringing one more profile or lead in line with the truth."""
EVENTS_PER_CUSTOMER = 5.6
"""About how many events ``build_workload`` makes per customer."""


def mismatches(base: str, truth: GroundTruth) -> list[str]:
    """Where the worker's API differs from the truth; empty when it agrees exactly."""
    found = []
    for email in sorted(truth.customer_emails | truth.prospect_emails):
        status, body = http_get(f"{base}/customers?email={quote(email)}")
        if status != 200:
            found.append(f"{email}: HTTP {status}")
            continue
        orders = body["orders"]["count"]
        if orders != truth.orders_by_email[email]:
            found.append(f"{email}: {orders} orders, truth {truth.orders_by_email[email]}")
        if body["email"] != email:
            found.append(f"{email}: profile shows another e-mail")
    for campaign_id, expected in truth.budget_actuals.items():
        status, body = http_get(f"{base}/budgets/{campaign_id}")
        if status != 200 or Decimal(body["actual_amount"]) != expected:
            found.append(f"{campaign_id}: {body if status == 200 else status}, truth {expected}")
    return found


def lead_people(settings: Settings) -> set[str]:
    """The e-mails of everyone handed to sales so far, read from ``crm.leads``."""
    codec = make_codec(None)
    leads = read_topic(settings, "crm.leads")
    return {codec.decode("crm.leads", message.value() or b"")["email"] for message in leads}


def lead_mismatches(settings: Settings, truth: GroundTruth) -> list[tuple[str, str]]:
    """Who is missing from ``crm.leads``, or there without reason: (e-mail, what is wrong)."""
    handed, expected = lead_people(settings), truth.sales_leads()
    return [(email, "no lead") for email in sorted(expected - handed)] + [
        (email, "lead, truth none") for email in sorted(handed - expected)
    ]


def lead_profile(base: str, truth: GroundTruth, email: str) -> str:
    """The score and lead status of a person's profile against the truth's points.

    Tells a lost lead (the profile says handed over) from a lost event (a lower score).
    """
    status, body = http_get(f"{base}/customers?email={quote(email)}")
    held = f"score {body['lead_score']}, {body['lead_status']}" if status == 200 else status
    return f"{email}: profile {held}, truth {truth.cms_points_by_email[email]}"


def held_profile(base: str, email: str) -> str:
    """The id, identities and orders the worker holds for a person, for a failure message.

    Tells an order applied to another profile (identities short of the truth's) from one lost.
    """
    status, body = http_get(f"{base}/customers?email={quote(email)}")
    if status != 200:
        return f"{email}: HTTP {status}"
    return (
        f"{email}: {body['customer_id']}, identities {body['identities']}, orders {body['orders']}"
    )


def uncommitted(settings: Settings) -> list[str]:
    """Partitions whose consumer group has records left to commit, to tell a stall from a loss."""
    inspector = Inspector(settings)
    try:
        return [f"{p.group} {p.topic}[{p.partition}]: {p.lag}" for p in inspector.lag() if p.lag]
    finally:
        inspector.close()


def settle_while_progressing(
    base: str, settings: Settings, truth: GroundTruth, process: Component
) -> None:
    """Wait until the worker and its leads agree with the truth, while they keep getting closer.

    A large workload takes minutes to work off; what fails the drill is standing still. The
    leads are waited for too: a person's CMS events may still be on their way when the orders
    and budgets already agree. A stall reports the worker's health, what its consumer group has
    left to commit (a stall or a loss), the profiles of people whose lead is wrong and the end
    of its log; only then are those profiles looked up.
    """
    fewest, progressed = math.inf, time.monotonic()
    while True:
        leads = lead_mismatches(settings, truth)
        found = mismatches(base, truth) + [f"{email}: {what}" for email, what in leads]
        if not found:
            return
        if len(found) < fewest:
            fewest, progressed = len(found), time.monotonic()
        elif time.monotonic() - progressed > STALL:
            profiles = [lead_profile(base, truth, email) for email, _ in leads[:5]]
            order_people = [entry.partition(":")[0] for entry in found if " orders, " in entry]
            held = [held_profile(base, email) for email in order_people[:5]]
            pytest.fail(
                f"{len(found)} mismatches for {STALL:.0f} s, e.g. {found[:5]}; "
                f"leads' profiles {profiles}; profiles short of orders {held}; "
                f"worker health {http_get(f'{base}/healthz')}; "
                f"uncommitted {uncommitted(settings)}; log:\n{process.log_tail()}"
            )
        time.sleep(1.0)


# Every table store: in memory, rebuilt from the changelogs at every start, and RocksDB (the
# default), which keeps the tables on disk across a kill and catches up from the changelogs.
@pytest.mark.parametrize("store", STATE_STORES)
def test_five_kills_during_processing_lose_and_double_nothing(
    drill_env: dict[str, str], drill_settings: Settings, store: str
) -> None:
    env = {**drill_env, "JOURNEYHUB_STATE": store}
    customers = max(10, round(EVENTS / EVENTS_PER_CUSTOMER))
    events, truth = build_workload(customers, SEED)
    rng = random.Random(SEED)
    base = worker_url(env)
    process = worker(env)
    started = time.monotonic()
    kills: list[float] = []
    try:
        codec = make_codec(None)
        slices = [
            events[len(events) * i // (KILLS + 1) : len(events) * (i + 1) // (KILLS + 1)]
            for i in range(KILLS + 1)
        ]
        for part in slices[:KILLS]:
            produce_workload(drill_settings, codec, part)
            time.sleep(rng.uniform(0.2, 2.0))
            kills.append(round(time.monotonic() - started, 1))
            process.kill()
            process.start()
            wait_until_healthy(process, base)
        produce_workload(drill_settings, codec, slices[KILLS])
        settle_while_progressing(base, drill_settings, truth, process)
        elapsed = time.monotonic() - started
        handed = lead_people(drill_settings)
        assert process.running
    finally:
        process.stop()

    print(
        f"\ncrash drill ({store}): {len(events)} events of {customers} customers, "
        f"SIGKILL at {kills} s, "
        f"ground truth matched after {elapsed:.0f} s: "
        f"{len(truth.customer_emails | truth.prospect_emails)} profiles, "
        f"{sum(truth.orders_by_email.values())} orders, budgets {truth.budget_actuals}"
    )
    assert len(kills) == KILLS
    print(f"  {len(handed)} people handed to sales, truth {len(truth.sales_leads())}")
    assert handed == truth.sales_leads()
