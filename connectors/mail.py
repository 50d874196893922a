"""The mail connector: `outbound.mail` jobs become e-mails sent over SMTP, once per job id.

A sent-store of accepted job ids stops redelivered jobs; a resend after a crash right after
"accepted" carries the same Message-ID, so receivers can recognise it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import structlog

from connectors.errors import (
    ConnectorConfigError,
    DeliveryError,
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.mail_message import MailAddressError, MailJob, job_message
from connectors.runtime import SinkRunner, process_options, run_sink_process
from connectors.sink import Sink, SinkRecord
from connectors.templates import TemplateRenderError, Templates
from streams.settings import Settings

log = structlog.get_logger(__name__)

MAIL_TOPIC: Final = "outbound.mail"
LOCAL_SMTP_PORT: Final = 8025
DEFAULT_SMTP_URL: Final = f"smtp://127.0.0.1:{LOCAL_SMTP_PORT}"
DEFAULT_SENDER: Final = "no-reply@journeyhub.localhost"
SENT_STORE_NAME: Final = "mail-sent.sqlite3"
_DETAIL_CHARS: Final = 200


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail, read from `SMTP_URL`.

    The URL form is `smtp://[user:password@]host[:port][?from=sender@example.com]`:
    `smtp://` upgrades to TLS when the server offers STARTTLS (default port 25), `smtps://`
    speaks TLS from the start (default port 465); `from` sets the sender address.

    Attributes:
        host: SMTP server host.
        port: SMTP server port.
        use_tls: Implicit TLS (`smtps://`).
        username: Login name, if the server needs one.
        password: Login password.
        sender: The `From` and envelope sender address.
    """

    host: str
    port: int
    use_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_SENDER

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Read an `smtp://` or `smtps://` URL.

        Raises:
            ConnectorConfigError: The URL has another scheme or no host.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps") or not parts.hostname:
            msg = "SMTP_URL must look like smtp://host:port or smtps://host:port"
            raise ConnectorConfigError(msg)
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if scheme == "smtps" else 25),
            use_tls=scheme == "smtps",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=query.get("from", [DEFAULT_SENDER])[0],
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """`SMTP_URL`, or the local SMTP server of `journeyhub up` when it is unset."""
        return cls.from_url(settings.smtp_url or DEFAULT_SMTP_URL)


def smtp_delivery_error(exc: Exception) -> DeliveryError:
    """Judge an SMTP failure: a 5xx answer is final, anything else (4xx, network) retriable."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        answer = f"SMTP server refused the recipient ({', '.join(map(str, codes))})"
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentDeliveryError(answer)
        return RetriableDeliveryError(answer)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        answer = f"SMTP server answered {exc.code}: {' '.join(exc.message.split())[:_DETAIL_CHARS]}"
        if 500 <= exc.code < 600:
            return PermanentDeliveryError(answer)
        return RetriableDeliveryError(answer)
    return RetriableDeliveryError(f"SMTP connection failed: {exc or type(exc).__name__}")


class SmtpSession:
    """One connection to the SMTP server; send messages until the context ends."""

    def __init__(self, client: aiosmtplib.SMTP, sender: str) -> None:
        self._client = client
        self._sender = sender

    @property
    def connected(self) -> bool:
        """Whether the connection still stands (a failure may have closed it)."""
        return self._client.is_connected

    async def send(self, message: EmailMessage) -> None:
        """Send one message; return once the server accepted it.

        Raises:
            PermanentDeliveryError: The server refused it for good (5xx).
            RetriableDeliveryError: A transient refusal (4xx) or a network failure.
        """
        try:
            await self._client.send_message(message, sender=self._sender)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise smtp_delivery_error(exc) from exc


class SmtpTarget:
    """An SMTP server reached with `aiosmtplib`.

    Args:
        config: Server, credentials and sender.
        timeout: Seconds for connecting and for each command.
    """

    def __init__(self, config: SmtpConfig, timeout: float = 30.0) -> None:
        self.config = config
        self._timeout = timeout

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SmtpSession]:
        """Connect (and log in), yield a session, then say goodbye.

        Raises:
            RetriableDeliveryError: The server cannot be reached or refused the login.
        """
        client = aiosmtplib.SMTP(
            hostname=self.config.host,
            port=self.config.port,
            use_tls=self.config.use_tls,
            username=self.config.username,
            password=self.config.password,
            timeout=self._timeout,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            msg = f"cannot connect to SMTP server {self.config.host}:{self.config.port}: {exc}"
            raise RetriableDeliveryError(msg) from exc
        try:
            yield SmtpSession(client, self.config.sender)
        finally:
            if client.is_connected:
                with suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()


class SentStore:
    """Keys of messages the SMTP server accepted, in SQLite, so each is sent once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, sent_at TEXT NOT NULL)"
        )

    def close(self) -> None:
        """Close the database; the store is unusable afterwards."""
        self._db.close()

    def __contains__(self, key: object) -> bool:
        row = self._db.execute("SELECT 1 FROM sent WHERE key = ?", (str(key),)).fetchone()
        return row is not None

    def add(self, key: str) -> None:
        """Remember that the message with this key was sent."""
        self._db.execute(
            "INSERT OR IGNORE INTO sent (key, sent_at) VALUES (?, ?)",
            (key, datetime.now(UTC).isoformat()),
        )


@dataclass(frozen=True)
class Outgoing:
    """A message ready to send, with the record it came from and its sent-store key."""

    record: SinkRecord
    key: str
    message: EmailMessage


async def send_all(
    target: SmtpTarget, outgoing: Sequence[Outgoing], sent: SentStore
) -> list[DeliveryError]:
    """Send messages over one connection, remembering each accepted one in `sent`.

    A refused message fails alone; when the connection is lost, it and every message after
    it are to be retried.

    Returns:
        One error per message (or group of messages) that was not sent, naming its records.
    """
    failures: list[DeliveryError] = []
    try:
        async with target.session() as session:
            for index, item in enumerate(outgoing):
                try:
                    await session.send(item.message)
                except PermanentDeliveryError as exc:
                    failures.append(PermanentDeliveryError(str(exc), records=[item.record]))
                    continue
                except RetriableDeliveryError as exc:
                    if session.connected:
                        failures.append(RetriableDeliveryError(str(exc), records=[item.record]))
                        continue
                    rest = _records(outgoing[index:])
                    failures.append(RetriableDeliveryError(str(exc), records=rest))
                    break
                sent.add(item.key)
                log.info("mail_sent", key=item.key, position=item.record.position)
    except RetriableDeliveryError as exc:
        # Only connecting raises here, before anything was sent.
        return [RetriableDeliveryError(str(exc), records=_records(outgoing))]
    return failures


def _records(outgoing: Sequence[Outgoing]) -> list[SinkRecord]:
    return [item.record for item in outgoing]


class MailSink(Sink):
    """Sends `outbound.mail` jobs: template → MIME message → SMTP, once per job id.

    Args:
        target: The SMTP server.
        data_dir: Where the sent-store lives (`mail-sent.sqlite3`).
        templates: The mail templates (default: the packaged ones).
    """

    name = "mail"
    topics = (MAIL_TOPIC,)

    def __init__(self, target: SmtpTarget, data_dir: Path, templates: Templates | None = None):
        self.target = target
        self._store_path = data_dir / SENT_STORE_NAME
        self._templates = templates or Templates()
        self._sent: SentStore | None = None

    async def open(self) -> None:
        """Open the sent-store."""
        self._sent = SentStore(self._store_path)

    async def close(self) -> None:
        """Close the sent-store."""
        if self._sent is not None:
            self._sent.close()
            self._sent = None

    async def deliver(self, batch: list[SinkRecord]) -> None:
        """Send the batch's jobs not sent before, in offset order, over one connection.

        Raises:
            PartialDeliveryError: Some jobs were not sent; it names their records.
        """
        sent = self._require_open()
        failures: list[DeliveryError] = []
        outgoing: list[Outgoing] = []
        for record in batch:
            if record.value is None:
                continue
            job = MailJob.from_value(record.value)
            if job.job_id in sent or any(item.key == job.job_id for item in outgoing):
                log.info("mail_already_sent", job_id=job.job_id, position=record.position)
                continue
            try:
                message = job_message(job, self.target.config.sender, self._templates)
            except (TemplateRenderError, MailAddressError) as exc:
                msg = f"cannot build the mail of job {job.job_id}: {exc}"
                failures.append(PermanentDeliveryError(msg, records=[record]))
                continue
            outgoing.append(Outgoing(record, job.job_id, message))
        if outgoing:
            failures.extend(await send_all(self.target, outgoing, sent))
        if failures:
            raise PartialDeliveryError(failures)

    def _require_open(self) -> SentStore:
        if self._sent is None:
            msg = "the mail sink is not open; call open() first"
            raise ConnectorConfigError(msg)
        return self._sent


def run_mail_connector(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Run the mail connector until SIGINT or SIGTERM (`journeyhub connect mail`).

    Args:
        settings: `SMTP_URL` (default: the local SMTP server on 127.0.0.1:8025), the data
            directory of the sent-store, and the Kafka settings are used.
        metrics_port: Serve `/metrics` on this port (on `JOURNEYHUB_WEB_HOST`) when set.
    """
    sink = MailSink(SmtpTarget(SmtpConfig.from_settings(settings)), settings.data_dir)
    options = process_options(settings, metrics_port)
    run_sink_process(SinkRunner(sink, settings, options))
