"""The alerts connector: every `alerts` event reaches a person by e-mail and, optionally, a webhook.

The webhook gets the JSON of an Alertmanager notification, so existing chat or paging
integrations work unchanged; each alert id is sent once per channel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import structlog

from connectors.dead_letters import ALERTS_TOPIC
from connectors.errors import (
    ConnectorConfigError,
    DeliveryError,
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.http_client import HttpCall, HttpTarget
from connectors.mail import Outgoing, SentStore, SmtpConfig, SmtpTarget, send_all
from connectors.mail_message import MailAddressError, compose
from connectors.metrics import ConnectorMetrics
from connectors.runtime import SinkRunner, process_options, run_sink_process
from connectors.sink import Sink, SinkRecord
from connectors.templates import TemplateRenderError, Templates
from streams.settings import Settings, revealed

log = structlog.get_logger(__name__)

SENT_STORE_NAME: Final = "alerts-sent.sqlite3"
WEBHOOK_RECEIVER: Final = "journeyhub"
_NEVER: Final = "0001-01-01T00:00:00Z"
"""Alertmanager's `endsAt` of an alert that has not ended."""


def alert_subject(alert: Mapping[str, Any]) -> str:
    """The subject of an alert mail, e.g. `[journeyhub] WARNING device_step_failed: sim-printer`."""
    return f"[journeyhub] {str(alert['severity']).upper()} {alert['kind']}: {alert['source']}"


def alert_mail(
    alert: Mapping[str, Any], sender: str, to: str, templates: Templates
) -> EmailMessage:
    """The e-mail about an alert, marked as automatically generated.

    Raises:
        TemplateRenderError: The alert template failed.
        MailAddressError: The sender or recipient address is malformed.
    """
    occurred_at: datetime = alert["occurred_at"]
    context = {
        **alert,
        "subject": alert_subject(alert),
        "occurred_at": occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    body = templates.mail("alert", context)
    return compose(
        sender=sender,
        to=to,
        subject=alert_subject(alert),
        text=body.text,
        html=body.html,
        identifier=str(alert["alert_id"]),
        date=occurred_at,
        automatic=True,
    )


def alertmanager_payload(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The body of an Alertmanager webhook notification (version 4) carrying one alert.

    Labels: `alertname` (the kind), `severity`, `source`, `alert_id`, and `job_id` /
    `campaign_id` when set; annotations: `summary` (the message) and `responsible`.
    """
    alert_id = str(alert["alert_id"])
    labels = {
        "alertname": str(alert["kind"]),
        "severity": str(alert["severity"]),
        "source": str(alert["source"]),
        "alert_id": alert_id,
    }
    for optional in ("job_id", "campaign_id"):
        if alert.get(optional):
            labels[optional] = str(alert[optional])
    annotations = {"summary": str(alert["message"])}
    if alert.get("responsible"):
        annotations["responsible"] = str(alert["responsible"])
    occurred_at: datetime = alert["occurred_at"]
    starts_at = occurred_at.astimezone(UTC).isoformat(timespec="milliseconds")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alert_id="{alert_id}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": WEBHOOK_RECEIVER,
        "groupLabels": {"alert_id": alert_id},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": starts_at.replace("+00:00", "Z"),
                "endsAt": _NEVER,
                "generatorURL": "",
                "fingerprint": hashlib.sha256(alert_id.encode()).hexdigest()[:16],
            }
        ],
    }


def _split_url(url: str) -> tuple[str, str]:
    """Split a URL into the base of an `HttpTarget` and the path (with query) to call."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return base, path


class AlertSink(Sink):
    """Sends each alert by e-mail and to the optional webhook, once per alert id and channel.

    The mail goes to the alert's `responsible`, else to `default_responsible`
    (`JOURNEYHUB_RESPONSIBLE`); the webhook is `JOURNEYHUB_ALERT_WEBHOOK_URL`.

    Args:
        smtp: The SMTP server for alert mails.
        data_dir: Where the sent-store lives (`alerts-sent.sqlite3`).
        default_responsible: Recipient of alerts that name nobody; without it and without
            `responsible`, an alert is not mailed.
        webhook_url: Where to POST the Alertmanager-shaped JSON, if anywhere.
        webhook_token: Sent as a bearer token with every POST, when the webhook wants one.
        templates: The alert mail template (default: the packaged one).
    """

    name = "alerts"
    topics = (ALERTS_TOPIC,)

    def __init__(
        self,
        smtp: SmtpTarget,
        data_dir: Path,
        default_responsible: str | None = None,
        webhook_url: str | None = None,
        webhook_token: str | None = None,
        templates: Templates | None = None,
        metrics: ConnectorMetrics | None = None,
    ) -> None:
        self.smtp = smtp
        self._metrics = metrics
        self.default_responsible = default_responsible
        self._store_path = data_dir / SENT_STORE_NAME
        self._templates = templates or Templates()
        self._webhook: tuple[HttpTarget, str] | None = None
        if webhook_url:
            base, path = _split_url(webhook_url)
            self._webhook = (HttpTarget(base, webhook_token), path)
        self._sent: SentStore | None = None

    async def open(self) -> None:
        """Open the sent-store and the webhook's connection pool."""
        self._sent = SentStore(self._store_path)
        if self._webhook is not None:
            await self._webhook[0].open()

    async def close(self) -> None:
        """Close the sent-store and the webhook's connection pool."""
        if self._webhook is not None:
            await self._webhook[0].close()
        if self._sent is not None:
            self._sent.close()
            self._sent = None

    async def deliver(self, batch: list[SinkRecord]) -> None:
        """Mail and post the batch's alerts that were not sent on that channel before.

        Raises:
            PartialDeliveryError: Some alerts were not sent; it names their records.
        """
        sent = self._require_open()
        failures: list[DeliveryError] = []
        mails: list[Outgoing] = []
        posts: list[tuple[SinkRecord, str, HttpCall]] = []
        planned: set[str] = set()
        new_alerts: list[SinkRecord] = []
        for record in batch:
            alert = record.value
            if alert is None:
                continue
            mail_key, post_key = f"{alert['alert_id']}:mail", f"{alert['alert_id']}:webhook"
            if not any(key in sent or key in planned for key in (mail_key, post_key)):
                new_alerts.append(record)
            recipient = alert.get("responsible") or self.default_responsible
            if recipient and mail_key not in sent and mail_key not in planned:
                planned.add(mail_key)
                try:
                    message = alert_mail(alert, self.smtp.config.sender, recipient, self._templates)
                except (TemplateRenderError, MailAddressError) as exc:
                    msg = f"cannot build the mail of alert {alert['alert_id']}: {exc}"
                    failures.append(PermanentDeliveryError(msg, records=[record]))
                else:
                    mails.append(Outgoing(record, mail_key, message))
            if self._webhook is not None and post_key not in sent and post_key not in planned:
                planned.add(post_key)
                call = HttpCall("POST", self._webhook[1], post_key, alertmanager_payload(alert))
                posts.append((record, post_key, call))
        if mails:
            failures.extend(await send_all(self.smtp, mails, sent))
        failures.extend(await self._post_all(posts, sent))
        self._count_delivered(new_alerts, failures)
        if failures:
            raise PartialDeliveryError(failures)

    def _count_delivered(self, alerts: list[SinkRecord], failures: list[DeliveryError]) -> None:
        """Count alerts sent for the first time, by kind, for the alerts dashboard."""
        if self._metrics is None:
            return
        failed = {(r.partition, r.offset) for failure in failures for r in failure.records}
        for record in alerts:
            if record.value is not None and (record.partition, record.offset) not in failed:
                self._metrics.alerts.labels(kind=str(record.value["kind"])).inc()

    async def _post_all(
        self, posts: list[tuple[SinkRecord, str, HttpCall]], sent: SentStore
    ) -> list[DeliveryError]:
        failures: list[DeliveryError] = []
        if self._webhook is None:
            return failures
        target = self._webhook[0]
        for record, key, call in posts:
            try:
                await target.send(call)
            except RetriableDeliveryError as exc:
                failures.append(
                    RetriableDeliveryError(
                        str(exc), records=[record], status=exc.status, retry_after=exc.retry_after
                    )
                )
                continue
            except PermanentDeliveryError as exc:
                failures.append(
                    PermanentDeliveryError(str(exc), records=[record], status=exc.status)
                )
                continue
            sent.add(key)
            log.info("alert_posted", key=key, position=record.position)
        return failures

    def _require_open(self) -> SentStore:
        if self._sent is None:
            msg = "the alerts sink is not open; call open() first"
            raise ConnectorConfigError(msg)
        return self._sent


def run_alerts_connector(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Run the alerts connector until SIGINT or SIGTERM (`journeyhub connect alerts`).

    Args:
        settings: `SMTP_URL`, `JOURNEYHUB_RESPONSIBLE`, `JOURNEYHUB_ALERT_WEBHOOK_URL`,
            `JOURNEYHUB_ALERT_WEBHOOK_TOKEN`, the data directory of the sent-store and the
            Kafka settings are used.
        metrics_port: Serve `/metrics` on this port (on `JOURNEYHUB_WEB_HOST`) when set.
    """
    metrics = ConnectorMetrics()
    sink = AlertSink(
        SmtpTarget(SmtpConfig.from_settings(settings)),
        settings.data_dir,
        settings.default_responsible,
        settings.alert_webhook_url,
        revealed(settings.alert_webhook_token),
        metrics=metrics,
    )
    options = process_options(settings, metrics_port)
    run_sink_process(SinkRunner(sink, settings, options, metrics=metrics))
