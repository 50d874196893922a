import json
from decimal import Decimal
from pathlib import Path

import pytest

from streams.broker import free_port
from streams.workload import build_workload
from tests.clitools import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CUSTOMERS = 50
SEED = 7


def test_the_demo_matches_the_ground_truth_of_its_workload(tmp_path: Path) -> None:
    env = {
        "JOURNEYHUB_BROKER_PORT": str(free_port()),
        "JOURNEYHUB_WEB_PORT": str(free_port()),
        "JOURNEYHUB_DATA_DIR": str(tmp_path / "data"),
        "JOURNEYHUB_STATE": "memory",
        "LOG_FORMAT": "console",
        # The first franking attempt fails: an alert for the responsible, then a retry.
        "JOURNEYHUB_DEVICE_FAULTS": "frank:1",
    }
    summary_path = tmp_path / "summary.json"
    result = run_cli(
        env,
        "demo",
        "--customers",
        str(CUSTOMERS),
        "--seed",
        str(SEED),
        "--summary-json",
        str(summary_path),
        timeout=420,
    )
    assert result.code == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "journeyhub demo" in result.stdout
    # No Kafka client of the demo outlives the broker and reports it gone.
    assert "|rdkafka#" not in result.stderr, result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    _, truth = build_workload(CUSTOMERS, SEED)

    assert summary["drained"] is True
    assert summary["events_in"] == {
        topic: truth.events_by_topic[topic] + truth.malformed_by_topic[topic]
        for topic in summary["events_in"]
    }
    for topic, malformed in truth.malformed_by_topic.items():
        assert summary["dead_letters"].get(topic) == malformed
    assert summary["profiles"] >= len(truth.customer_emails | truth.prospect_emails)
    assert summary["crm"]["contacts"] == len(truth.customer_emails)
    assert summary["leads"] == len(truth.sales_leads())
    assert summary["crm"]["leads"] == summary["lead_ids"]
    # The print campaign reaches every customer of its region, one letter each, although
    # a franking attempt failed; the failure reached the stack's responsible as a mail.
    assert summary["letters"] == truth.print_campaign_letters() > 0
    assert summary["alerts"]["device_step_failed"] == 1
    assert summary["alert_mails"] == sum(summary["alerts"].values())
    for campaign_id, actual in truth.budget_actuals.items():
        budget = summary["budgets"][campaign_id]
        assert Decimal(budget["actual_amount"]) == actual
        assert Decimal(budget["planned_amount"]) == truth.budget_planned[campaign_id]
