"""Broker restart drill on the embedded broker, which keeps everything in memory.

A restart loses every topic, record and committed offset. The drill shows what the worker
and a connector do when the broker comes back empty on the same port, and that
``ensure_topics`` (run by every ``journeyhub`` start) is what brings the topics back.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from schemas.catalog import CATALOG
from schemas.codec import make_codec
from streams.broker import EmbeddedBroker, free_port
from streams.kafka import ensure_topics
from streams.settings import Settings
from streams.workload import build_workload
from tests.drills.drilltools import (
    Component,
    produce_raw,
    produce_workload,
    read_topic,
    worker,
    worker_url,
)
from tests.workertools import http_get, wait_for

pytestmark = pytest.mark.slow

CODEC = make_codec(None)
SETTLE = 90.0


def budget_records(campaign_id: str, amount: str) -> list[tuple[str, bytes, bytes]]:
    """A plan and one invoice of ``amount`` for ``campaign_id``: (topic, key, value)."""
    events, _ = build_workload(1, seed=5)
    plan = next(e.value for e in events if e.topic == "marketing.budget.plans" and e.value)
    invoice = next(e.value for e in events if e.topic == "erp.invoices" and e.value)
    plan = plan | {"campaign_id": campaign_id}
    document_id = f"1000-2026-{abs(hash(campaign_id)) % 10**10:010d}"
    invoice = invoice | {
        "document_id": document_id,
        "document_type": "invoice",
        "reverses_document_id": None,
        "campaign_id": campaign_id,
        "amount": Decimal(amount),
        "local_amount": Decimal(amount),
    }
    return [
        (
            "marketing.budget.plans",
            campaign_id.encode(),
            CODEC.encode("marketing.budget.plans", plan),
        ),
        ("erp.invoices", document_id.encode(), CODEC.encode("erp.invoices", invoice)),
    ]


def send_budget(settings: Settings, campaign_id: str, amount: str) -> None:
    for topic, key, value in budget_records(campaign_id, amount):
        produce_raw(settings, topic, [(key, value)])


def actual(base: str, campaign_id: str) -> Any:
    status, body = http_get(f"{base}/budgets/{campaign_id}")
    return body.get("actual_amount") if status == 200 else status


def test_after_a_broker_restart_topics_are_gone_and_the_worker_processes_new_events(
    drill_broker: EmbeddedBroker, drill_env: dict[str, str], drill_settings: Settings
) -> None:
    crm_port = free_port()
    env = {**drill_env, "CRM_URL": f"http://127.0.0.1:{crm_port}"}
    base = worker_url(env)
    crm = Component.cli(env, "sandbox-crm", "sandbox-crm", "--port", str(crm_port)).start()
    process = worker(env)
    connector = Component.cli(env, "connect-crm", "connect", "crm").start()
    facts: dict[str, Any] = {}
    try:
        send_budget(drill_settings, "cmp-before-restart", "100.00")
        wait_for(lambda: actual(base, "cmp-before-restart") == "100.00", SETTLE)
        topics_before = len(read_topic_names(drill_settings))

        drill_broker.stop()
        time.sleep(3)
        facts["worker alive while the broker is down"] = process.running
        facts["connector alive while the broker is down"] = connector.running
        facts["/healthz while the broker is down"] = http_get(base + "/healthz")[0]
        drill_broker.start()
        restarted_at = time.monotonic()
        facts["topics right after the restart"] = sorted(read_topic_names(drill_settings))
        facts["invoices left after the restart"] = len(read_topic(drill_settings, "erp.invoices"))
        ensure_topics(drill_settings, CATALOG.values())

        send_budget(drill_settings, "cmp-after-restart", "200.00")
        wait_for(
            lambda: actual(base, "cmp-after-restart") == "200.00",
            SETTLE,
            lambda: f"worker did not process new events: {facts}\n{process.log_tail()}",
            process.process,
        )
        facts["seconds until new events were processed"] = round(time.monotonic() - restarted_at, 1)
        events, truth = build_workload(6, seed=8)
        produce_workload(drill_settings, CODEC, events)
        wait_for(
            lambda: contacts(env) >= len(truth.customer_emails),
            SETTLE,
            lambda: f"connector did not deliver after the restart:\n{connector.log_tail()}",
            connector.process,
        )
        facts["CRM contacts delivered after the restart"] = contacts(env)
        facts["budget of before the restart, still served"] = actual(base, "cmp-before-restart")
        facts["worker restarts needed"] = process.starts - 1
        assert process.running
        assert connector.running
    finally:
        for part in (connector, process, crm):
            part.stop()
    print(f"\nbroker restart drill ({topics_before} topics before): {facts}")
    assert len(facts["topics right after the restart"]) < topics_before
    assert facts["invoices left after the restart"] == 0


def contacts(env: dict[str, str]) -> int:
    status, body = http_get(f"{env['CRM_URL']}/stats")
    return int(body["contacts"]) if status == 200 else 0


def read_topic_names(settings: Settings) -> list[str]:
    from confluent_kafka.admin import AdminClient

    from streams.kafka import client_config

    return list(AdminClient(client_config(settings)).list_topics(timeout=10).topics)
