"""The MIME message of a mail job: text and HTML parts from a template, and its headers.

Everything in the message derives from the job, the Message-ID included (`<job_id@journeyhub>`),
so a job sent twice yields the same message and receivers can recognise the duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

from connectors.errors import ConnectorError
from connectors.templates import Templates

MESSAGE_ID_DOMAIN: Final = "journeyhub"
_ATEXT: Final = "!#$&'*+-/=?^_`{|}~."


class MailAddressError(ConnectorError):
    """An address of a mail is not a valid e-mail address (the message never names it)."""


def mail_address(addr_spec: str, role: str) -> Address:
    """Parse an e-mail address for a header.

    Raises:
        MailAddressError: The address is not a valid ASCII e-mail address.
    """
    try:
        return Address(addr_spec=addr_spec.strip())
    except (ValueError, HeaderParseError):
        msg = f"the {role} address is not a valid e-mail address"
        raise MailAddressError(msg) from None


@dataclass(frozen=True)
class MailJob:
    """An e-mail to send, as `outbound.mail` carries it (CONTRACT §2)."""

    job_id: str
    customer_id: str
    template: str
    to: str
    subject: str
    salutation: str
    variables: Mapping[str, str]
    created_at: datetime
    trigger_event_id: str | None = None

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> MailJob:
        """Build a job from a decoded `outbound.mail` value."""
        return cls(
            job_id=value["job_id"],
            customer_id=value["customer_id"],
            template=value["template"],
            to=value["to"],
            subject=value["subject"],
            salutation=value["salutation"],
            variables=dict(value.get("variables") or {}),
            created_at=value["created_at"],
            trigger_event_id=value.get("trigger_event_id"),
        )


def message_id(identifier: str) -> str:
    """The Message-ID of a mail about `identifier` (a job or alert id): `<identifier@journeyhub>`.

    Characters a Message-ID cannot hold (e.g. `:` or `@`) are percent-encoded, so distinct
    ids stay distinct.
    """
    local = quote(identifier, safe=_ATEXT).strip(".").replace("..", ".%2E") or "_"
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


def unsubscribe_links(sender: str, job_id: str, url: str | None) -> list[str]:
    """The entries of `List-Unsubscribe` (RFC 2369): the job's web link first, then a mailto."""
    links = []
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        links.append(url)
    links.append(f"mailto:{sender}?subject={quote(f'unsubscribe {job_id}')}")
    return links


def compose(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    identifier: str,
    date: datetime,
    unsubscribe: Sequence[str] = (),
    automatic: bool = False,
) -> EmailMessage:
    """Assemble a `multipart/alternative` message with a text and an HTML part (UTF-8).

    Args:
        sender: The `From` address.
        to: The recipient address.
        subject: The subject; non-ASCII is encoded as the standard asks.
        text: The plain-text part.
        html: The HTML part.
        identifier: The job or alert id the Message-ID derives from.
        date: The `Date` header.
        unsubscribe: `List-Unsubscribe` links; with an https link, one-click unsubscribe
            (RFC 8058) is offered too.
        automatic: Mark the message `Auto-Submitted: auto-generated` (alerts), so
            autoresponders stay quiet.

    Raises:
        MailAddressError: The sender or recipient is not a valid e-mail address.
    """
    message = EmailMessage()
    message["From"] = mail_address(sender, "sender")
    message["To"] = mail_address(to, "recipient")
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(identifier)
    if unsubscribe:
        message["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in unsubscribe)
        if any(link.startswith("https:") for link in unsubscribe):
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if automatic:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    # A boundary from the id instead of a random one: the same job gives the same bytes.
    message.set_boundary(f"==journeyhub-{hashlib.sha256(identifier.encode()).hexdigest()[:32]}==")
    return message


def job_message(job: MailJob, sender: str, templates: Templates) -> EmailMessage:
    """The message of a mail job: its template rendered with the job's variables.

    `Date` is when the job was created, so sending the job again yields the same message.

    Raises:
        TemplateRenderError: The template cannot be rendered with the job's variables.
        MailAddressError: The recipient is not a valid e-mail address.
    """
    context = {
        **job.variables,
        "salutation": job.salutation,
        "subject": job.subject,
        "job_id": job.job_id,
    }
    body = templates.mail(job.template, context)
    return compose(
        sender=sender,
        to=job.to,
        subject=job.subject,
        text=body.text,
        html=body.html,
        identifier=job.job_id,
        date=job.created_at,
        unsubscribe=unsubscribe_links(sender, job.job_id, job.variables.get("unsubscribe_url")),
    )
