"""The backoff policy: full jitter within bounds, Retry-After honoured, the budget enforced."""

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import ConnectorConfigError
from connectors.retry import RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_attempts=6, max_elapsed=30.0, base_delay=0.5, max_delay=4.0)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0)])
def test_jitter_stays_between_zero_and_the_exponential_ceiling(
    attempt: int, ceiling: float
) -> None:
    rng = random.Random(1)

    delays = [POLICY.next_delay(attempt, elapsed=0.0, rng=rng) for _ in range(500)]

    assert all(delay is not None and 0.0 <= delay <= ceiling for delay in delays)
    assert max(d for d in delays if d is not None) > ceiling * 0.9
    assert min(d for d in delays if d is not None) < ceiling * 0.1


def test_retry_after_is_never_cut_short_by_the_jitter() -> None:
    rng = random.Random(2)

    delays = [POLICY.next_delay(1, elapsed=0.0, retry_after=3.0, rng=rng) for _ in range(100)]

    assert delays == [3.0] * 100


def test_a_retry_after_longer_than_max_delay_is_still_honoured() -> None:
    assert POLICY.next_delay(1, elapsed=0.0, retry_after=12.0) == 12.0


def test_the_budget_is_spent_after_max_attempts() -> None:
    assert POLICY.next_delay(5, elapsed=0.0) is not None
    assert POLICY.next_delay(6, elapsed=0.0) is None


def test_the_budget_is_spent_when_the_wait_would_end_after_max_elapsed() -> None:
    assert POLICY.next_delay(1, elapsed=25.0, retry_after=5.0) == 5.0
    assert POLICY.next_delay(1, elapsed=25.0, retry_after=5.5) is None
    assert POLICY.next_delay(1, elapsed=31.0) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": 0.0}, {"base_delay": 5.0, "max_delay": 1.0}],
    ids=["no-attempts", "zero-delay", "base-above-max"],
)
def test_a_policy_that_cannot_work_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConnectorConfigError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_http_date(
    header: str | None, seconds: float | None
) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)

    assert parse_retry_after(header, now) == seconds
