"""Building the e-mail of a mail job: templates, parts and headers."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.mail_message import (
    MailAddressError,
    MailJob,
    job_message,
    message_id,
    unsubscribe_links,
)
from connectors.templates import TemplateRenderError, Templates, safe_url

SENDER = "news@shop.example"
CREATED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def mail_job(**changes: Any) -> MailJob:
    fields: dict[str, Any] = {
        "job_id": "mail-product_interest-c1-rennrad",
        "customer_id": "c1",
        "template": "product_interest",
        "to": "kundin@example.test",
        "subject": "Neuheiten für Sie: Rennräder",
        "salutation": "Sehr geehrte Frau Dr. Müßig",
        "variables": {"category": "Rennräder", "unsubscribe_url": "https://shop.example/u/c1"},
        "created_at": CREATED,
    }
    fields.update(changes)
    return MailJob(**fields)


def parsed(message: EmailMessage) -> EmailMessage:
    """The message as a receiver reads it, from the bytes on the wire."""
    parsed_message = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed_message, EmailMessage)
    return parsed_message


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


def test_the_message_id_and_date_derive_from_the_job() -> None:
    message = parsed(job_message(mail_job(), SENDER, Templates()))

    assert message["Message-ID"] == "<mail-product_interest-c1-rennrad@journeyhub>"
    assert parsedate_to_datetime(message["Date"]) == CREATED
    assert message["From"] == SENDER
    assert message["To"] == "kundin@example.test"
    assert message["Subject"] == "Neuheiten für Sie: Rennräder"


def test_building_a_job_twice_gives_the_same_bytes() -> None:
    first = job_message(mail_job(), SENDER, Templates()).as_bytes()

    assert job_message(mail_job(), SENDER, Templates()).as_bytes() == first


def test_the_text_and_html_parts_carry_the_german_text_with_umlauts() -> None:
    text, html = parts(parsed(job_message(mail_job(), SENDER, Templates())))

    assert text.startswith("Sehr geehrte Frau Dr. Müßig,\n")
    assert "für Rennräder interessiert" in text
    assert "Mit freundlichen Grüßen" in text
    assert "<strong>Rennräder</strong>" in html
    assert '<html lang="de">' in html


def test_unsubscribing_works_by_link_and_by_mail() -> None:
    message = parsed(job_message(mail_job(), SENDER, Templates()))

    assert message["List-Unsubscribe"] == (
        "<https://shop.example/u/c1>, "
        "<mailto:news@shop.example?subject=unsubscribe%20mail-product_interest-c1-rennrad>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://shop.example/u/c1" in parts(message)[1]


def test_without_an_unsubscribe_link_only_the_mailto_is_offered() -> None:
    assert unsubscribe_links(SENDER, "job-1", None) == [
        "mailto:news@shop.example?subject=unsubscribe%20job-1"
    ]
    assert unsubscribe_links(SENDER, "job-1", "javascript:alert(1)")[0].startswith("mailto:")


def test_variables_cannot_inject_markup_into_the_html_part() -> None:
    job = mail_job(variables={"category": "<script>alert(1)</script>", "url": "javascript:x()"})

    text, html = parts(parsed(job_message(job, SENDER, Templates())))

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="#"' in html
    assert "<script>alert(1)</script>" in text


def test_an_unknown_template_falls_back_to_the_generic_campaign() -> None:
    job = mail_job(template="fruehjahrslauf_2026", variables={"campaign_name": "Frühjahrslauf"})

    text, _ = parts(parsed(job_message(job, SENDER, Templates())))

    assert "Aktion „Frühjahrslauf“" in text


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        ("cross_sell", {"product_name": "Klickpedale"}, "passt dazu: Klickpedale"),
        ("survey_invitation", {"survey_url": "https://s.example/1"}, "Zur Umfrage"),
        ("campaign", {"body": "Erster Absatz.\n\nZweiter Absatz."}, "Zweiter Absatz."),
    ],
)
def test_each_packaged_template_renders_its_variables(
    template: str, variables: dict[str, str], expected: str
) -> None:
    text, html = parts(
        parsed(job_message(mail_job(template=template, variables=variables), SENDER, Templates()))
    )

    assert expected in text
    assert expected.split(":")[0] in html


def test_a_variable_a_template_cannot_do_without_is_reported_by_name(tmp_path: Path) -> None:
    (tmp_path / "campaign.txt").write_text("{{ coupon_code }}")
    (tmp_path / "campaign.html").write_text("<p>{{ coupon_code }}</p>")

    with pytest.raises(TemplateRenderError, match="coupon_code"):
        job_message(mail_job(template="campaign"), SENDER, Templates(tmp_path))


def test_an_invalid_recipient_is_refused_without_repeating_the_address() -> None:
    with pytest.raises(MailAddressError) as raised:
        job_message(mail_job(to="kundin at example"), SENDER, Templates())

    assert "kundin" not in str(raised.value)


def test_message_ids_of_different_ids_differ_and_stay_valid() -> None:
    assert (
        message_id("device_step_failed:j1:frank:2")
        == "<device_step_failed%3Aj1%3Afrank%3A2@journeyhub>"
    )
    assert message_id("a b") != message_id("a_b")


def test_only_web_and_mail_links_pass_the_url_filter() -> None:
    assert safe_url("https://shop.example/x") == "https://shop.example/x"
    assert safe_url("mailto:info@shop.example") == "mailto:info@shop.example"
    assert safe_url(" javascript:alert(1)") == "#"
    assert safe_url("data:text/html;base64,xx") == "#"
