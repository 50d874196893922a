"""Every dashboard panel and every alert rule, evaluated by a real Prometheus on a real stack.

A worker and the CRM connector run on the embedded broker with a little traffic (a budget
plan overspent by invoices, a shop checkout, leads, poison records); Prometheus scrapes them
every second, plus one worker and one connector address where nothing listens, as replicas
that are down. Each expression must parse and return data; one that reads only metrics that
the print and alerts connectors record (AWAITING_RECORDING, not run here) must parse.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer

from connectors.crm import LEADS_TOPIC, PROFILES_TOPIC
from connectors.runtime import group_id
from schemas.catalog import get_topic
from streams.broker import free_port
from streams.kafka import ensure_topics
from streams.settings import Settings
from tests.clitools import run_cli
from tests.connectors.conftest import current_ends, start_group_at
from tests.deploy.monitoring import (
    ALERT_RULES,
    Query,
    alert_queries,
    alert_rules,
    metric_names,
    panel_queries,
    signal,
    variable_queries,
)
from tests.workertools import http_get, running_worker, stop_process, wait_for

pytestmark = pytest.mark.slow

PROMETHEUS = shutil.which("prometheus")
SETTLE_SECONDS = 60.0
AWAITING_RECORDING = frozenset(
    {"journeyhub_connector_device_steps_total", "journeyhub_connector_alerts_total"}
)
"""Metrics recorded by the print and alerts connectors, which this test does not run."""
FIRING_ON_THIS_TRAFFIC = (
    "JourneyhubWorkerDown",
    "JourneyhubConnectorDown",
    "JourneyhubWorkerDeadLetters",
    "JourneyhubConnectorDeadLetters",
    "JourneyhubBudgetExceeded",
)


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        status, body = http_get(url)
        assert isinstance(body, dict), f"{url} answered {status}: {body!r}"
        return body

    def problem(self, query: Query) -> str | None:
        """Why a query fails or answers without data (unless it awaits recording), or None."""
        answer = self.get("/api/v1/query", query=query.expr)
        if answer["status"] != "success":
            return f"{query.source}: {answer.get('error')}\n    {query.expr}"
        if not answer["data"]["result"] and not metric_names(query.expr) <= AWAITING_RECORDING:
            return f"{query.source}: no data\n    {query.expr}"
        return None


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    """Run a command until the block ends (SIGTERM); enter the block once `ready_url` answers."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_for(
            lambda: http_get(ready_url)[0] == 200,
            60,
            lambda: f"{command[0]} not ready at {ready_url}; log:\n{log.read_text()[-3000:]}",
            process,
        )
        yield
    finally:
        stop_process(process)


def journeyhub(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", *args]


def prometheus_config(worker: int, connector: int, tmp_path: Path) -> Path:
    """Scrape the worker and the connector every second, each with a replica that is down."""
    jobs = {"journeyhub-worker": worker, "journeyhub-connectors": connector}
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERT_RULES)],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": [f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"]}],
            }
            for job, port in jobs.items()
        ],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def produce(env: dict[str, str], topic: str, *records: dict[str, Any]) -> None:
    lines = "".join(json.dumps(record) + "\n" for record in records)
    result = run_cli(env, "produce", topic, "-", stdin=lines)
    assert result.code == 0, result.stderr


def invoice(document_id: str, amount: str, campaign_id: str | None) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "document_type": "invoice",
        "reverses_document_id": None,
        "posting_date": "2026-07-15",
        "company_code": "1000",
        "vendor_id": "V-1",
        "vendor_name": "Ads Vendor",
        "campaign_id": campaign_id,
        "cost_center": None,
        "gl_account": "6600",
        "amount": amount,
        "currency": "EUR",
        "local_amount": amount,
        "local_currency": "EUR",
    }


def send_traffic(env: dict[str, str], run: str) -> None:
    """An overspent campaign, a duplicate and an unassigned invoice, a customer, leads, poison."""
    campaign = f"obs-{run}"
    plan = {
        "campaign_id": campaign,
        "name": "Observability drill",
        "channel": "sea",
        "owner_email": "owner@example.com",
        "start_date": "2026-07-01",
        "end_date": "2026-09-30",
        "planned_amount": "1000.00",
        "currency": "EUR",
        "alert_threshold_pct": 80,
    }
    produce(env, "marketing.budget.plans", plan)
    first = invoice(f"1000-2026-{run}1", "600.00", campaign)
    produce(
        env,
        "erp.invoices",
        first,
        invoice(f"1000-2026-{run}2", "600.00", campaign),
        first,
        invoice(f"1000-2026-{run}3", "50.00", None),
    )
    customer = {
        "first_name": "Test",
        "last_name": "Person",
        "gender": "unknown",
        "email": f"person.{run}@example.test",
        "street": "Teststraße 1",
        "postal_code": "01067",
        "city": "Dresden",
        "country": "DE",
        "social_handles": [],
    }
    checkout = {
        "event_id": f"checkout-{run}",
        "event_type": "checkout",
        "occurred_at": "2026-07-15T10:00:00Z",
        "session_id": f"s-{run}",
        "customer_id": f"shop-{run}",
        "customer": customer,
    }
    produce(env, "shop.events", checkout)
    leads = [
        {
            "lead_id": f"lead-{run}-{n}",
            "customer_id": f"c-{run}-{n}",
            "score": 60,
            "reasons": ["webinar_clicked"],
            "lead_status": "sales_lead",
            "created_at": "2026-07-15T10:00:00Z",
        }
        for n in range(3)
    ]
    produce(env, LEADS_TOPIC, *leads)
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]})
    for topic in ("erp.invoices", LEADS_TOPIC):
        producer.produce(topic, key=f"poison-{run}".encode(), value=b"not avro")
    assert producer.flush(10) == 0


def start_connector_at_the_end(env: dict[str, str]) -> None:
    """Let the CRM connector's group skip what earlier tests left on its topics."""
    settings = Settings.from_env(env)
    topics = (PROFILES_TOPIC, LEADS_TOPIC)
    ensure_topics(settings, [get_topic(topic) for topic in topics])
    start_group_at(settings, group_id("crm"), current_ends(settings, topics))


def problems_of(prometheus: Prometheus) -> list[str]:
    """Every expression of the deploy files that does not answer with data."""
    alerts = alert_queries()
    firing = [
        query for query in alerts if query.source.removeprefix("alert ") in FIRING_ON_THIS_TRAFFIC
    ]
    signals = [Query(f"{query.source} (signal)", signal(query.expr)) for query in alerts]
    queries = [*panel_queries(), *variable_queries(), *signals, *firing]
    return [problem for query in queries if (problem := prometheus.problem(query))]


def unhealthy_rules(prometheus: Prometheus) -> list[str]:
    groups = prometheus.get("/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(alert_rules()), "Prometheus did not load every rule"
    return [
        f"{rule['name']}: {rule['health']} {rule.get('lastError', '')}"
        for rule in rules
        if rule["health"] != "ok"
    ]


def exposed_metrics(prometheus: Prometheus) -> set[str]:
    return set(prometheus.get("/api/v1/label/__name__/values")["data"])


def named_metrics() -> set[str]:
    return set().union(*(metric_names(q.expr) for q in [*panel_queries(), *alert_queries()]))


@pytest.fixture
def prometheus_binary() -> str:
    if PROMETHEUS is None:
        pytest.skip("prometheus missing: `make system-packages` installs Debian's prometheus")
    return PROMETHEUS


def test_every_dashboard_panel_and_alert_rule_returns_data_from_a_running_stack(
    test_env: dict[str, str], tmp_path: Path, prometheus_binary: str
) -> None:
    run = uuid.uuid4().hex[:8]
    crm_port, metrics_port, prometheus_port = free_port(), free_port(), free_port()
    worker_port = int(test_env["JOURNEYHUB_WEB_PORT"])
    config = prometheus_config(worker_port, metrics_port, tmp_path)
    prometheus = Prometheus(f"http://127.0.0.1:{prometheus_port}")
    connector_env = {
        **test_env,
        "CRM_URL": f"http://127.0.0.1:{crm_port}",
        "JOURNEYHUB_METRICS_PORT": str(metrics_port),
    }
    prometheus_command = [
        prometheus_binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
    ]
    sandbox_command = journeyhub("sandbox-crm", "--port", str(crm_port), "--fail-rate", "0.5")

    with (
        running(prometheus_command, {}, f"{prometheus.base}/-/ready", tmp_path / "prometheus.log"),
        running(
            sandbox_command, test_env, f"{connector_env['CRM_URL']}/stats", tmp_path / "crm.log"
        ),
        running_worker(test_env),
    ):
        start_connector_at_the_end(test_env)
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        with running(
            journeyhub("connect", "crm"), connector_env, metrics_url, tmp_path / "connect.log"
        ):
            send_traffic(test_env, run)
            deadline = time.monotonic() + SETTLE_SECONDS
            while (problems := problems_of(prometheus)) and time.monotonic() < deadline:
                time.sleep(1)
            rules = unhealthy_rules(prometheus)
            exposed = exposed_metrics(prometheus)

    assert not problems, "\n".join(["expressions without data:", *problems])
    assert not rules, rules
    unknown = named_metrics() - exposed - AWAITING_RECORDING
    assert not unknown, f"dashboards or rules name metrics nobody exposes: {sorted(unknown)}"
    recorded = AWAITING_RECORDING & exposed
    assert not recorded, f"now recorded, remove from AWAITING_RECORDING: {sorted(recorded)}"
