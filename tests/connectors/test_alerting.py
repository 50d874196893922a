"""The alerts connector: mail to the responsible person, Alertmanager-shaped webhook, dedup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.alerting import AlertSink, alertmanager_payload
from connectors.dead_letters import ALERTS_TOPIC
from connectors.device_steps import StepAttempt, failure_alert
from connectors.errors import PartialDeliveryError, PermanentDeliveryError, RetriableDeliveryError
from connectors.mail import SmtpConfig, SmtpTarget
from connectors.metrics import ConnectorMetrics
from connectors.sink import SinkRecord
from streams.broker import free_port
from tests.connectors.records import record
from tests.connectors.test_mail import MailServer, smtp_server  # noqa: F401 - fixture

OCCURRED = datetime(2026, 3, 2, 8, 15, 30, 250000, tzinfo=UTC)


def an_alert(alert_id: str = "device_step_failed:job-1:frank:1", **changes: Any) -> dict[str, Any]:
    attempt = StepAttempt(
        job_id="job-1",
        step="frank",
        attempt=1,
        device_id="sim-franking-1",
        status="failed",
        occurred_at=OCCURRED,
        error_code="INK_EMPTY",
        error_message="simulated ink empty (drill)",
    )
    return {**failure_alert(attempt, "druckerei@example.test"), "alert_id": alert_id, **changes}


def alert_record(offset: int, **changes: Any) -> SinkRecord:
    alert = an_alert(**changes)
    return record(alert["alert_id"], alert, offset, topic=ALERTS_TOPIC)


@dataclass
class Webhook:
    """A real HTTP receiver that records what it is sent and can fail on purpose."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    failures_left: int = 0
    token: str | None = None


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    port = free_port()
    hook = Webhook(f"http://127.0.0.1:{port}/hooks/alerts?team=print")

    async def receive(request: web.Request) -> web.Response:
        if request.query.get("team") != "print":
            return web.Response(status=404)
        if hook.token and request.headers.get("Authorization") != f"Bearer {hook.token}":
            return web.Response(status=401)
        if hook.failures_left:
            hook.failures_left -= 1
            return web.Response(status=503)
        hook.received.append(await request.json())
        hook.keys.append(request.headers["Idempotency-Key"])
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks/alerts", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield hook
    await runner.cleanup()


async def open_sink(
    mail: MailServer,
    data_dir: Path,
    webhook_url: str | None = None,
    default: str | None = None,
    webhook_token: str | None = None,
) -> AlertSink:
    smtp = SmtpTarget(SmtpConfig.from_url(f"smtp://127.0.0.1:{mail.port}?from=alerts@shop.example"))
    sink = AlertSink(
        smtp,
        data_dir,
        default_responsible=default,
        webhook_url=webhook_url,
        webhook_token=webhook_token,
    )
    await sink.open()
    return sink


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert isinstance(part, EmailMessage)
    return part.get_content()


async def test_an_alert_is_mailed_to_its_responsible_and_posted_to_the_webhook(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    sink = await open_sink(smtp_server, tmp_path, webhook.url, default="ops@example.test")

    await sink.deliver([alert_record(0)])
    await sink.close()

    [message] = smtp_server.messages()
    assert message["To"] == "druckerei@example.test"
    assert message["Subject"] == "[journeyhub] WARNING device_step_failed: sim-franking-1"
    assert message["Message-ID"] == "<device_step_failed%3Ajob-1%3Afrank%3A1@journeyhub>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "Auftrag:     job-1" in body(message, "plain")
    assert "INK_EMPTY" in body(message, "html")
    assert webhook.received == [alertmanager_payload(an_alert())]
    assert webhook.keys == ["device_step_failed:job-1:frank:1:webhook"]


def test_the_webhook_body_has_the_alertmanager_shape() -> None:
    payload = alertmanager_payload(an_alert())

    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    [alert] = payload["alerts"]
    assert alert["labels"] == {
        "alertname": "device_step_failed",
        "severity": "warning",
        "source": "sim-franking-1",
        "alert_id": "device_step_failed:job-1:frank:1",
        "job_id": "job-1",
    }
    assert alert["annotations"]["responsible"] == "druckerei@example.test"
    assert "INK_EMPTY" in alert["annotations"]["summary"]
    assert alert["startsAt"] == "2026-03-02T08:15:30.250Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert payload["commonLabels"] == alert["labels"]
    assert len(alert["fingerprint"]) == 16


async def test_an_alert_without_responsible_goes_to_the_default_person(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    sink = await open_sink(smtp_server, tmp_path, default="ops@example.test")

    await sink.deliver([alert_record(0, responsible=None)])
    await sink.close()

    assert [m["To"] for m in smtp_server.messages()] == ["ops@example.test"]


async def test_an_alert_nobody_is_responsible_for_only_reaches_the_webhook(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    sink = await open_sink(smtp_server, tmp_path, webhook.url)

    await sink.deliver([alert_record(0, responsible=None)])
    await sink.close()

    assert smtp_server.messages() == []
    assert len(webhook.received) == 1


async def test_a_redelivered_alert_is_sent_once_per_channel_even_after_a_restart(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    sink = await open_sink(smtp_server, tmp_path, webhook.url)
    await sink.deliver([alert_record(0), alert_record(1)])
    await sink.close()
    restarted = await open_sink(smtp_server, tmp_path, webhook.url)
    await restarted.deliver([alert_record(2), alert_record(3, alert_id="another")])
    await restarted.close()

    ids = [m["Message-ID"] for m in smtp_server.messages()]
    assert ids == ["<device_step_failed%3Ajob-1%3Afrank%3A1@journeyhub>", "<another@journeyhub>"]
    assert webhook.keys == ["device_step_failed:job-1:frank:1:webhook", "another:webhook"]


async def test_a_failing_webhook_is_retried_without_mailing_again(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    webhook.failures_left = 1
    sink = await open_sink(smtp_server, tmp_path, webhook.url)

    with pytest.raises(PartialDeliveryError) as raised:
        await sink.deliver([alert_record(0)])
    await sink.deliver([alert_record(0)])
    await sink.close()

    [failure] = raised.value.failures
    assert isinstance(failure, RetriableDeliveryError)
    assert failure.status == 503
    assert len(smtp_server.messages()) == 1
    assert len(webhook.received) == 1


async def test_a_webhook_that_wants_a_token_gets_it_and_refuses_a_wrong_one_for_good(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    webhook.token = "hook-secret-17"
    wrong = await open_sink(smtp_server, tmp_path / "wrong", webhook.url, webhook_token="guess")
    with pytest.raises(PartialDeliveryError) as raised:
        await wrong.deliver([alert_record(0)])
    await wrong.close()
    right = await open_sink(
        smtp_server, tmp_path / "right", webhook.url, webhook_token="hook-secret-17"
    )
    await right.deliver([alert_record(0)])
    await right.close()

    [failure] = raised.value.failures
    assert isinstance(failure, PermanentDeliveryError)
    assert failure.status == 401
    assert webhook.received == [alertmanager_payload(an_alert())]


async def test_alerts_are_counted_by_kind_once_however_often_they_arrive(
    smtp_server: MailServer,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    metrics = ConnectorMetrics()
    smtp = SmtpTarget(
        SmtpConfig.from_url(f"smtp://127.0.0.1:{smtp_server.port}?from=a@shop.example")
    )
    sink = AlertSink(smtp, tmp_path, default_responsible="ops@example.test", metrics=metrics)
    await sink.open()
    await sink.deliver([alert_record(0)])
    await sink.deliver([alert_record(0)])
    await sink.close()

    sample = metrics.registry.get_sample_value(
        "journeyhub_connector_alerts_total", {"kind": "device_step_failed"}
    )
    assert sample == 1.0
