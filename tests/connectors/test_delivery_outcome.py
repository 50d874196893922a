"""Sorting a delivery's records by the sink's error, and the alert of a dead letter."""

from datetime import UTC, datetime

from connectors.dead_letters import delivery_failed_alert
from connectors.errors import (
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.runtime import group_id, sort_out
from schemas.codec import make_codec
from schemas.errors import DecodeError
from tests.connectors.records import record

BATCH = [record(f"c-{i}", {}, offset=10 + i, partition=2) for i in range(4)]


def test_no_error_means_every_record_was_delivered() -> None:
    outcome = sort_out(BATCH, None)

    assert (outcome.delivered, outcome.retry, outcome.dead) == (4, [], [])


def test_an_error_without_records_is_about_the_whole_batch() -> None:
    outcome = sort_out(BATCH, RetriableDeliveryError("timeout", retry_after=2.0))

    assert outcome.delivered == 0
    assert outcome.retry == BATCH
    assert outcome.retry_after == 2.0


def test_a_partial_failure_retries_some_dead_letters_others_and_counts_the_rest() -> None:
    error = PartialDeliveryError(
        [
            RetriableDeliveryError("503", records=[BATCH[3]], retry_after=1.0),
            PermanentDeliveryError("400", records=[BATCH[1]], status=400),
            RetriableDeliveryError("429", records=[BATCH[0]], retry_after=3.0),
        ]
    )

    outcome = sort_out(BATCH, error)

    assert outcome.delivered == 1
    assert [r.offset for r in outcome.retry] == [10, 13]
    assert outcome.retry_after == 3.0
    assert [(r.offset, e.status) for r, e in outcome.dead] == [(11, 400)]


def test_a_delivery_failed_alert_names_the_position_and_no_personal_data() -> None:
    failed = record("c-9", {"email": "c-9@example.test"}, offset=42, partition=1)
    error = PermanentDeliveryError("PUT /contacts/c-9 answered 400: c-9@example.test", status=400)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    alert = delivery_failed_alert("crm", failed, error, now)

    assert alert["alert_id"] == "delivery_failed:customer360.profiles:1:42"
    assert (alert["kind"], alert["severity"], alert["source"]) == (
        "delivery_failed",
        "critical",
        "crm",
    )
    assert "customer360.profiles[1]@42" in alert["message"]
    assert "HTTP 400" in alert["message"]
    assert "dlq.customer360.profiles" in alert["message"]
    assert "example.test" not in alert["message"]
    assert make_codec(None).decode("alerts", make_codec(None).encode("alerts", alert)) == alert


def test_a_dead_campaign_job_is_alerted_to_the_campaigns_responsible() -> None:
    job = {
        "job_id": "job-7",
        "variables": {"campaign_id": "cmp-herbst", "responsible": "marketing@example.test"},
    }
    failed = record("job-7", job, offset=3, topic="outbound.mail")

    alert = delivery_failed_alert("mail", failed, PermanentDeliveryError("550", status=None))

    assert (alert["job_id"], alert["campaign_id"], alert["responsible"]) == (
        "job-7",
        "cmp-herbst",
        "marketing@example.test",
    )
    other = delivery_failed_alert("crm", record("c-1", {"email": "x"}, 1), DecodeError("bad"))
    assert (other["job_id"], other["campaign_id"], other["responsible"]) == (None, None, None)


def test_the_same_record_always_gets_the_same_alert_id() -> None:
    failed = record("c-9", None, offset=7)

    first = delivery_failed_alert("crm", failed, DecodeError("bad magic byte"))
    second = delivery_failed_alert("crm", failed, PermanentDeliveryError("400", status=400))

    assert first["alert_id"] == second["alert_id"]
    assert "DecodeError" in first["message"]


def test_each_connector_has_its_own_consumer_group() -> None:
    assert group_id("crm") == "journeyhub-connect-crm"
