"""Outage drill: CRM down, franking device failing and off, SMTP refusing, then recovery.

While the targets are away the connectors retry and alert; afterwards every contact, mail
and letter is delivered, each exactly once. What a connector gave up on during the outage
(its retry budget is bounded) sits in ``dlq.<topic>`` and comes back with ``dlq replay``.
"""

from __future__ import annotations

import email
import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from schemas.codec import make_codec
from streams.broker import free_port
from streams.settings import Settings
from streams.workload import build_workload
from tests.clitools import run_cli
from tests.drills.drilltools import Component, produce_raw, produce_workload, read_topic, worker
from tests.workertools import http_get, wait_for

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = float(os.environ.get("JOURNEYHUB_DRILL_OUTAGE", "20"))
CUSTOMERS = 60
MAIL_JOBS = 20
PRINT_JOBS = 6
CODEC = make_codec(None)
SETTLE = 240.0
FIRST_WAIT = 45.0
"""How long recovery may take on retries alone before dead letters are replayed."""


class SwitchableMailbox:
    """An SMTP handler that answers 451 while refusing and stores each message otherwise."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.refusing = threading.Event()
        self.refused = 0
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Refuse for now, or keep the message as ``<n>.eml``."""
        if self.refusing.is_set():
            self.refused += 1
            return "451 4.3.0 mailbox temporarily unavailable"
        content = envelope.original_content or b""
        name = f"{time.monotonic_ns()}.eml"
        (self.directory / name).write_bytes(content)
        return "250 OK"

    def message_ids(self) -> Counter[str]:
        """How often each Message-ID arrived."""
        ids: Counter[str] = Counter()
        for path in self.directory.glob("*.eml"):
            ids[str(email.message_from_bytes(path.read_bytes())["Message-ID"])] += 1
        return ids


def mail_job(index: int, now: datetime) -> dict[str, Any]:
    return {
        "job_id": f"job-outage-mail-{index:03d}",
        "customer_id": f"cust-outage-{index:03d}",
        "template": "product_interest",
        "to": f"person{index}@example.org",
        "subject": "Neue Laufschuhe",
        "salutation": "Guten Tag",
        "variables": {"category": "running_shoes"},
        "trigger_event_id": None,
        "created_at": now,
    }


def print_job(index: int, now: datetime) -> dict[str, Any]:
    return {
        "job_id": f"job-outage-print-{index:03d}",
        "customer_id": f"cust-outage-{index:03d}",
        "template": "campaign",
        "address": {
            "lines": ["Frau", "Erika Musterfrau"],
            "street": "Hauptstraße 1",
            "postal_code": "01067",
            "city": "Dresden",
            "country": "DE",
        },
        "salutation": "Sehr geehrte Frau Musterfrau",
        "variables": {"campaign_name": "Herbst"},
        "created_at": now,
    }


def encoded(topic: str, records: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    return [(r["job_id"].encode(), CODEC.encode(topic, r)) for r in records]


def test_after_an_outage_of_crm_devices_and_smtp_everything_is_delivered_once(
    drill_env: dict[str, str], drill_settings: Settings, tmp_path: Path
) -> None:
    crm_port, frank_port, dispatch_port = free_port(), free_port(), free_port()
    mailbox = SwitchableMailbox(tmp_path / "mail")
    mailbox.refusing.set()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        **drill_env,
        "CRM_URL": f"http://127.0.0.1:{crm_port}",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "JOURNEYHUB_DEVICE_FAULTS": "frank:2,print:1",
    }
    printing = {
        **env,
        "FRANKING_URL": f"http://127.0.0.1:{frank_port}",
        "DISPATCH_URL": f"http://127.0.0.1:{dispatch_port}",
    }
    ports = ("--franking-port", str(frank_port), "--dispatch-port", str(dispatch_port))
    devices = Component.module(env, "devices", "connectors.devices", *ports)
    crm = Component.cli(env, "sandbox-crm", "sandbox-crm", "--port", str(crm_port))
    parts = [devices.start()]
    try:
        parts.append(worker(env))
        parts += [
            Component.cli(env, f"connect-{name}", "connect", name).start()
            for name in ("crm", "mail")
        ]
        parts.append(Component.cli(printing, "connect-print", "connect", "print").start())
        events, truth = build_workload(CUSTOMERS, seed=31)
        produce_workload(drill_settings, CODEC, events)
        now = datetime.now(UTC)
        job_mail_ids = {f"<job-outage-mail-{i:03d}@journeyhub>" for i in range(MAIL_JOBS)}
        produce_raw(
            drill_settings,
            "outbound.mail",
            encoded("outbound.mail", [mail_job(i, now) for i in range(MAIL_JOBS)]),
        )
        produce_raw(
            drill_settings,
            "outbound.print",
            encoded("outbound.print", [print_job(i, now) for i in range(PRINT_JOBS)]),
        )
        time.sleep(2)
        devices.stop()
        time.sleep(OUTAGE_SECONDS)

        parts.append(crm.start())
        devices.start()
        mailbox.refusing.clear()
        recovered_at = time.monotonic()

        def stats() -> dict[str, Any]:
            status, body = http_get(f"{env['CRM_URL']}/stats")
            return body if status == 200 else {}

        def pdfs() -> list[Path]:
            return sorted((tmp_path / "print").glob("*.pdf"))

        def delivered() -> bool:
            return (
                stats().get("contacts", 0) >= len(truth.customer_emails)
                and job_mail_ids <= set(mailbox.message_ids())
                and len(pdfs()) >= PRINT_JOBS
            )

        replayed = replay_dead_letters_after(delivered, drill_env, drill_settings)
        catch_up = time.monotonic() - recovered_at
        alerts = [
            CODEC.decode("alerts", m.value() or b"") for m in read_topic(drill_settings, "alerts")
        ]
        crm_stats = stats()
        assert all(p.running for p in parts), [p.log_path.name for p in parts if not p.running]
    finally:
        for part in reversed(parts):
            part.stop()
        smtp.stop()

    ids = mailbox.message_ids()
    kinds = Counter(alert["kind"] for alert in alerts)
    print(
        f"\noutage drill: {OUTAGE_SECONDS:g} s outage of CRM, franking device and SMTP; "
        f"caught up {catch_up:.1f} s after recovery\n"
        f"  CRM {crm_stats}; mails {sum(ids.values())} for {MAIL_JOBS} jobs "
        f"({mailbox.refused} refused with 451); PDFs {len(pdfs())} "
        f"for {PRINT_JOBS} jobs; dead letters replayed {replayed}; alerts {dict(kinds)}"
    )
    assert crm_stats["contacts"] == len(truth.customer_emails)
    assert set(ids.values()) == {1}, "a mail arrived twice"
    assert job_mail_ids <= set(ids)
    assert {p.stem for p in (tmp_path / "print").glob("*.pdf")} == {
        f"job-outage-print-{i:03d}" for i in range(PRINT_JOBS)
    }
    assert mailbox.refused > 0
    assert kinds["device_step_failed"] >= 3, "frank:2,print:1 failures were not alerted"


def replay_dead_letters_after(
    delivered: Any, env: dict[str, str], settings: Settings
) -> dict[str, int]:
    """Wait for delivery; replay what the connectors dead-lettered meanwhile, once."""
    try:
        wait_for(delivered, FIRST_WAIT, lambda: "not yet delivered")
        return {}
    except AssertionError:
        pass
    replayed = {}
    for topic in ("customer360.profiles", "outbound.mail", "outbound.print"):
        letters = read_topic(settings, f"dlq.{topic}")
        if letters:
            result = run_cli(env, "dlq", "replay", topic)
            assert result.code == 0, result.stderr
            replayed[topic] = len(letters)
    wait_for(delivered, SETTLE / 2, lambda: f"not delivered after replaying {replayed}")
    return replayed
