import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streams.broker import free_port
from streams.workload import build_workload
from tests.clitools import CommandResult

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CUSTOMERS = 50
SEED = 7
DEMO_TIMEOUT_SECONDS = 420


@contextlib.contextmanager
def demo_left_running(
    env: dict[str, str], tmp_path: Path, summary_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`journeyhub demo --keep-running`, from the moment its summary is written."""
    command = [sys.executable, "-m", "streams.cli", "demo", "--customers", str(CUSTOMERS)]
    command += ["--seed", str(SEED), "--summary-json", str(summary_path), "--keep-running"]
    with (tmp_path / "stdout").open("wb") as out, (tmp_path / "stderr").open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + DEMO_TIMEOUT_SECONDS
        while not summary_path.exists():
            assert process.poll() is None, (tmp_path / "stderr").read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo wrote no summary in time"
            time.sleep(0.5)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def finished(process: subprocess.Popen[bytes], tmp_path: Path) -> CommandResult:
    """Wait for the demo to stop and read what it printed."""
    code = process.wait(timeout=60)
    stdout = (tmp_path / "stdout").read_text(encoding="utf-8")
    return CommandResult(code, stdout, (tmp_path / "stderr").read_text(encoding="utf-8"))


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_the_demo_matches_its_truth_and_stays_up_for_a_caller_to_be_found(tmp_path: Path) -> None:
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
    _, truth = build_workload(CUSTOMERS, SEED)
    email = min(truth.customer_records)
    phone = truth.customer_records[email]["phone"]
    # The shop took "0171 …"; the caller gives it the international way, "+49 (0)171 …".
    spelled = "+49 (0)" + phone[1:]
    api = f"http://127.0.0.1:{env['JOURNEYHUB_WEB_PORT']}"
    with demo_left_running(env, tmp_path, summary_path) as process:
        caller = http_json(f"{api}/customers?{urllib.parse.urlencode({'phone': spelled})}")
        process.send_signal(signal.SIGINT)
        result = finished(process, tmp_path)
    assert result.code == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "journeyhub demo" in result.stdout
    assert "customers?phone=" in result.stdout  # the demo says what to try
    assert caller["email"] == email
    assert caller["phone"] == "+49" + phone[1:].replace(" ", "")
    # No Kafka client of the demo outlives the broker and reports it gone.
    assert "|rdkafka#" not in result.stderr, result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())

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
