"""The mail sink against a real local SMTP server (aiosmtpd) that stores `.eml` files."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from connectors.errors import (
    ConnectorConfigError,
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.mail import MAIL_TOPIC, MailSink, SmtpConfig, SmtpTarget
from connectors.sink import SinkRecord
from connectors.smtp_server import MailDirHandler, start_local_smtp_server
from connectors.templates import Templates
from schemas.jsonconv import json_to_record
from streams.broker import free_port
from tests.connectors.records import record


class PickyHandler(MailDirHandler):
    """The local server's handler, refusing recipients of two test domains."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith("@refused.test"):
            return "550 5.1.1 mailbox unavailable"
        if address.endswith("@greylisted.test"):
            return "451 4.7.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class MailServer:
    port: int
    directory: Path

    def messages(self) -> list[EmailMessage]:
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found


@pytest.fixture
async def smtp_server(tmp_path: Path) -> AsyncIterator[MailServer]:
    port = free_port()
    server = await start_local_smtp_server(tmp_path / "smtp", port=port)
    yield MailServer(port, tmp_path / "smtp" / "mail")
    server.close()
    await server.wait_closed()


@pytest.fixture
async def picky_server(tmp_path: Path) -> AsyncIterator[MailServer]:
    port = free_port()
    directory = tmp_path / "picky"
    handler = PickyHandler(directory)
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler), host="127.0.0.1", port=port
    )
    yield MailServer(port, directory)
    server.close()
    await server.wait_closed()


def mail_record(job_id: str, offset: int, **changes: Any) -> SinkRecord:
    document = {
        "job_id": job_id,
        "customer_id": "c1",
        "template": "cross_sell",
        "to": "kunde@example.test",
        "subject": "Passend zu Ihrem Rennrad: Klickpedale für Sie",
        "salutation": "Sehr geehrter Herr Jürgens",
        "variables": {"product_name": "Klickpedale", "ordered_product": "Rennrad Größe M"},
        "trigger_event_id": "order-1",
        "created_at": datetime(2026, 3, 2, 10, 0, tzinfo=UTC).isoformat(),
        **changes,
    }
    return record(job_id, json_to_record(MAIL_TOPIC, document), offset, topic=MAIL_TOPIC)


async def open_sink(port: int, data_dir: Path, templates: Templates | None = None) -> MailSink:
    config = SmtpConfig.from_url(f"smtp://127.0.0.1:{port}?from=service@shop.example")
    sink = MailSink(SmtpTarget(config, timeout=5), data_dir, templates)
    await sink.open()
    return sink


async def test_a_job_arrives_with_its_headers_both_parts_and_umlauts(
    smtp_server: MailServer, tmp_path: Path
) -> None:
    sink = await open_sink(smtp_server.port, tmp_path)

    await sink.deliver([mail_record("job-cross-1", 0)])
    await sink.close()

    [message] = smtp_server.messages()
    assert message["Message-ID"] == "<job-cross-1@journeyhub>"
    assert message["From"] == "service@shop.example"
    assert message["To"] == "kunde@example.test"
    assert message["Subject"] == "Passend zu Ihrem Rennrad: Klickpedale für Sie"
    assert message["Date"] == "Mon, 02 Mar 2026 10:00:00 +0000"
    assert "unsubscribe%20job-cross-1" in message["List-Unsubscribe"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert "Sehr geehrter Herr Jürgens," in text.get_content()
    assert "von Rennrad Größe M" in text.get_content()
    assert "<strong>Klickpedale</strong>" in html.get_content()


async def test_a_redelivered_job_sends_nothing_even_after_a_restart(
    smtp_server: MailServer, tmp_path: Path
) -> None:
    sink = await open_sink(smtp_server.port, tmp_path)
    await sink.deliver([mail_record("job-a", 0), mail_record("job-a", 1)])
    await sink.deliver([mail_record("job-a", 2)])
    await sink.close()

    restarted = await open_sink(smtp_server.port, tmp_path)
    await restarted.deliver([mail_record("job-a", 3), mail_record("job-b", 4)])
    await restarted.close()

    ids = [message["Message-ID"] for message in smtp_server.messages()]
    assert ids == ["<job-a@journeyhub>", "<job-b@journeyhub>"]


async def test_a_mail_server_that_is_down_makes_the_whole_batch_wait(tmp_path: Path) -> None:
    sink = await open_sink(free_port(), tmp_path)

    with pytest.raises(PartialDeliveryError) as raised:
        await sink.deliver([mail_record("job-1", 0), mail_record("job-2", 1)])
    await sink.close()

    [failure] = raised.value.failures
    assert isinstance(failure, RetriableDeliveryError)
    assert [r.offset for r in failure.records] == [0, 1]


async def test_a_refused_recipient_fails_alone_and_a_greylisted_one_is_retried(
    picky_server: MailServer, tmp_path: Path
) -> None:
    sink = await open_sink(picky_server.port, tmp_path)
    batch = [
        mail_record("job-ok-1", 0),
        mail_record("job-refused", 1, to="nobody@refused.test"),
        mail_record("job-grey", 2, to="later@greylisted.test"),
        mail_record("job-ok-2", 3),
    ]

    with pytest.raises(PartialDeliveryError) as raised:
        await sink.deliver(batch)

    outcome = {type(f): [r.offset for r in f.records] for f in raised.value.failures}
    assert outcome == {PermanentDeliveryError: [1], RetriableDeliveryError: [2]}
    sent = [m["Message-ID"] for m in picky_server.messages()]
    assert sent == ["<job-ok-1@journeyhub>", "<job-ok-2@journeyhub>"]

    with pytest.raises(PartialDeliveryError):
        await sink.deliver([batch[2]])
    await sink.close()
    assert len(picky_server.messages()) == 2


async def test_a_job_whose_template_cannot_render_is_refused_and_the_rest_is_sent(
    smtp_server: MailServer, tmp_path: Path
) -> None:
    templates_dir = tmp_path / "templates"
    templates_dir.mkdir()
    (templates_dir / "campaign.txt").write_text("{{ body }}")
    (templates_dir / "campaign.html").write_text("<p>{{ body }}</p>")
    sink = await open_sink(smtp_server.port, tmp_path, Templates(templates_dir))

    with pytest.raises(PartialDeliveryError) as raised:
        await sink.deliver(
            [
                mail_record("job-broken", 0, template="campaign"),
                mail_record("job-fine", 1, template="campaign", variables={"body": "Hallo Welt"}),
            ]
        )
    await sink.close()

    [failure] = raised.value.failures
    assert isinstance(failure, PermanentDeliveryError)
    assert "'body' is undefined" in str(failure)
    assert [m["Message-ID"] for m in smtp_server.messages()] == ["<job-fine@journeyhub>"]


def test_the_smtp_url_carries_server_credentials_and_sender() -> None:
    config = SmtpConfig.from_url("smtps://mailer:p%40ss@mail.example.com?from=news@shop.example")

    assert (config.host, config.port, config.use_tls) == ("mail.example.com", 465, True)
    assert (config.username, config.password) == ("mailer", "p@ss")
    assert config.sender == "news@shop.example"
    assert "p@ss" not in repr(config)
    assert SmtpConfig.from_url("smtp://127.0.0.1").port == 25


def test_a_url_that_is_not_smtp_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="SMTP_URL"):
        SmtpConfig.from_url("http://mail.example.com")


async def test_python_m_connectors_smtp_server_stores_mail_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "connectors.smtp_server", "--port", str(port)),
        env={**os.environ, "JOURNEYHUB_DATA_DIR": str(tmp_path)},
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        sink = await open_sink(port, tmp_path)
        for _ in range(100):
            try:
                await sink.deliver([mail_record("job-over-the-wire", 0)])
                break
            except PartialDeliveryError:
                await asyncio.sleep(0.2)
        await sink.close()
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), 20)

    assert exit_code == 0
    assert [m["Message-ID"] for m in MailServer(port, tmp_path / "mail").messages()] == [
        "<job-over-the-wire@journeyhub>"
    ]
