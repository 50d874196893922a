"""`journeyhub demo`: the whole middleware at work on generated customer journeys.

Brings the local stack up, produces a deterministic workload, waits until every consumer
group has caught up, requests a print campaign to the customers it made (letters rendered,
printed, franked and dispatched), then reports what the pipeline made of it beside the ground
truth the generator recorded independently, and stops everything.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas.codec import Codec, make_codec
from streams.inspect import Inspector
from streams.kafka import producer_config
from streams.settings import Settings
from streams.stack import SANDBOX_CRM_URL, running_stack, worker_url
from streams.workload import (
    PRINT_CAMPAIGN_ID,
    GroundTruth,
    WorkloadEvent,
    build_workload,
    print_campaign_request,
)

DRAIN_TIMEOUT_SECONDS = 240.0
QUIET_POLLS_TO_DRAIN = 3
LOCAL_STORES = (
    "alerts-sent.sqlite3",
    "crm-contacts.sqlite3",
    "mail-sent.sqlite3",
    "print-steps.sqlite3",
    "sandbox-crm.sqlite3",
)
"""What the local stack's connectors and sandbox CRM remember between runs, in the data dir."""
LOCAL_OUTPUTS = ("mail", "print")
"""The folders of the mails and letters the local stack delivered."""


@dataclass
class DemoSummary:
    """What the demo shows at the end, and what the test suite compares with the truth."""

    events_in: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    profiles: int = 0
    leads: int = 0
    lead_ids: int = 0
    crm: dict[str, int] = field(default_factory=dict)
    mails: int = 0
    alert_mails: int = 0
    letters: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    drained: bool = False


def produce_workload(
    settings: Settings,
    codec: Codec,
    events: Sequence[WorkloadEvent],
    progress: Progress,
    description: str = "producing events",
) -> None:
    """Send every event in order, malformed ones as their raw bytes."""
    producer = Producer(producer_config(settings))
    task = progress.add_task(description, total=len(events))
    for event in events:
        value = event.raw if event.value is None else codec.encode(event.topic, event.value)
        producer.produce(event.topic, key=event.key, value=value)
        producer.poll(0)
        progress.advance(task)
    producer.flush(60)


def wait_for_drain(inspector: Inspector, progress: Progress, timeout: float) -> bool:
    """Wait until every journeyhub consumer group has no lag for a few polls in a row."""
    task = progress.add_task("pipeline draining", total=None)
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        lag = sum(row.lag for row in inspector.lag() if row.group.startswith("journeyhub"))
        progress.update(task, description=f"pipeline draining (lag {lag})")
        quiet = quiet + 1 if lag == 0 else 0
        if quiet >= QUIET_POLLS_TO_DRAIN:
            progress.update(task, total=1, completed=1)
            return True
        time.sleep(1.0)
    return False


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own URL
            return json.loads(response.read())
    except OSError:
        return None


def _files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern)) if directory.exists() else []


def _is_alert_mail(path: Path) -> bool:
    """Alert mails say they were generated automatically (RFC 3834); mails to customers do not."""
    with path.open("rb") as message:
        headers = BytesHeaderParser().parse(message)
    return headers.get("Auto-Submitted", "no") != "no"


def collect_summary(
    settings: Settings, inspector: Inspector, codec: Codec, truth: GroundTruth
) -> DemoSummary:
    """Read what the pipeline produced: topics, the worker's API, the CRM, the output folders."""
    summary = DemoSummary()
    counts = {info.name: info.messages for info in inspector.topics()}
    summary.events_in = {
        topic: counts.get(topic, 0)
        for topic in sorted(set(truth.events_by_topic) | set(truth.malformed_by_topic))
    }
    summary.dead_letters = {s.origin: s.count for s in inspector.dead_letters()}
    profiles = inspector.latest_values("customer360.profiles")
    summary.profiles = sum(1 for value in profiles.values() if value is not None)
    leads = [
        codec.decode("crm.leads", v) for v in inspector.latest_values("crm.leads").values() if v
    ]
    summary.leads = len({lead["email"] or lead["customer_id"] for lead in leads})
    summary.lead_ids = len({lead["lead_id"] for lead in leads})
    summary.crm = _get_json(f"{SANDBOX_CRM_URL}/stats") or {} if settings.crm_url is None else {}
    mails = _files(settings.data_dir / "mail", "*.eml")
    summary.alert_mails = sum(_is_alert_mail(path) for path in mails)
    summary.mails = len(mails) - summary.alert_mails
    summary.letters = len(_files(settings.data_dir / "print", "*.pdf"))
    kinds: Counter[str] = Counter()
    for value in inspector.latest_values("alerts").values():
        if value is not None:
            kinds[str(codec.decode("alerts", value).get("kind"))] += 1
    summary.alerts = dict(kinds)
    for campaign_id in sorted(truth.budget_planned):
        summary.budgets[campaign_id] = _get_json(f"{worker_url(settings)}/budgets/{campaign_id}")
    summary.expected = {
        "dead_letters": dict(truth.malformed_by_topic),
        "customers": len(truth.customer_emails),
        "known_people": len(truth.customer_emails | truth.prospect_emails),
        "orders": sum(truth.orders_by_email.values()),
        "sales_leads": len(truth.sales_leads()),
        "letters": truth.print_campaign_letters(),
        "budget_actuals": {k: str(v) for k, v in truth.budget_actuals.items()},
    }
    return summary


def print_summary(summary: DemoSummary, console: Console) -> None:
    """The summary table for people."""
    table = Table(title="journeyhub demo")
    table.add_column("what")
    table.add_column("got", justify="right")
    table.add_column("expected", justify="right")
    expected = summary.expected
    for topic, count in summary.events_in.items():
        table.add_row(f"events in {topic}", str(count), "")
    table.add_row("dead letters", str(sum(summary.dead_letters.values())),
                  str(sum(expected["dead_letters"].values())))  # fmt: skip
    table.add_row("profiles", str(summary.profiles), f">= {expected['known_people']}")
    table.add_row("people handed to sales", str(summary.leads), str(expected["sales_leads"]))
    table.add_row("CRM contacts", str(summary.crm.get("contacts", "-")), str(expected["customers"]))
    table.add_row("CRM leads", str(summary.crm.get("leads", "-")), str(summary.lead_ids))
    table.add_row("mails sent", str(summary.mails), "")
    table.add_row("letters printed", str(summary.letters), str(expected["letters"]))
    for kind, count in sorted(summary.alerts.items()):
        table.add_row(f"alerts {kind}", str(count), "")
    table.add_row("alert mails", str(summary.alert_mails), str(sum(summary.alerts.values())))
    for campaign_id, budget in summary.budgets.items():
        got = f"{budget['actual_amount']} ({budget['status']})" if budget else "-"
        table.add_row(f"budget {campaign_id}", got, expected["budget_actuals"][campaign_id])
    console.print(table)


def is_fully_local(settings: Settings) -> bool:
    """True when the broker and every target are the local stack's own."""
    targets = (
        settings.crm_url,
        settings.smtp_url,
        settings.printer_uri,
        settings.franking_url,
        settings.dispatch_url,
    )
    return settings.uses_embedded_broker and all(target is None for target in targets)


def clear_earlier_run(settings: Settings) -> None:
    """Forget what an earlier run delivered and remembered, so this run compares only itself.

    The same seed makes the same events, so the stores of sent mails and letters would
    suppress every send as done before. Only on a fully local stack: where a real CRM, mail
    server or device is configured, those stores guard it against a second send. Called once
    the embedded broker holds its port, so a stack still running there keeps its files.
    """
    if not is_fully_local(settings):
        return
    for folder in LOCAL_OUTPUTS:
        shutil.rmtree(settings.data_dir / folder, ignore_errors=True)
    for store in LOCAL_STORES:
        for path in settings.data_dir.glob(f"{store}*"):  # with SQLite's -wal and -shm files
            path.unlink()


def exploration_hints(settings: Settings, truth: GroundTruth) -> list[str]:
    """What to look at on the stack the demo leaves running, with one of its customers."""
    api = worker_url(settings)
    campaign = PRINT_CAMPAIGN_ID
    hints = [
        f"try         {api}/budgets/{campaign}  {api}/campaigns/{campaign}",
        f"            {SANDBOX_CRM_URL}/stats; mails and letters in {settings.data_dir}",
    ]
    if truth.customer_records:  # a tiny workload may have made none
        email = min(truth.customer_records)
        phone = urllib.parse.quote(truth.customer_records[email]["phone"])
        hints[1:1] = [
            f"            {api}/customers?phone={phone}  (any spelling of the number)",
            f"            {api}/customers?email={email}",
        ]
    return hints


def report_summary(summary: DemoSummary, path: Path | None, console: Console) -> None:
    """Write the summary as JSON to ``path``, if given, and print it as a table."""
    if path is not None:
        path.write_text(json.dumps(asdict(summary), indent=2, default=str))
    print_summary(summary, console)


def run_demo(
    settings: Settings,
    *,
    customers: int,
    seed: int,
    say: Callable[[str], None],
    summary_path: Path | None = None,
    keep_running: bool = False,
) -> DemoSummary:
    """Run the stack on a generated workload, print the summary, stop everything.

    With ``keep_running`` the stack stays up after the summary, until Ctrl-C, to be explored.
    """
    console = Console()
    events, truth = build_workload(customers, seed)
    codec = make_codec(settings.schema_registry_url)
    with running_stack(settings, say, lambda: clear_earlier_run(settings)) as supervisor:
        inspector = Inspector(settings)
        try:
            with Progress(console=console, transient=False) as progress:
                produce_workload(settings, codec, events, progress)
                drained = wait_for_drain(inspector, progress, DRAIN_TIMEOUT_SECONDS)
                campaign = [print_campaign_request()]
                produce_workload(settings, codec, campaign, progress, "requesting print campaign")
                drained = wait_for_drain(inspector, progress, DRAIN_TIMEOUT_SECONDS) and drained
            summary = collect_summary(settings, inspector, codec, truth)
            summary.drained = drained
        finally:
            inspector.close()
        if not keep_running:
            report_summary(summary, summary_path, console)
        else:
            with supervisor.stopping_on_signals():  # Ctrl-C once the summary is out: a clean stop
                report_summary(summary, summary_path, console)
                for line in exploration_hints(settings, truth):
                    say(line)
                say("journeyhub is up; Ctrl-C stops everything")
                supervisor.watch()
    say(f"worker API was {worker_url(settings)}; data in {settings.data_dir}")
    return summary
