"""How long to wait before delivering again, and when to give up.

Exponential backoff with full jitter (spreads retries of many connectors over time), never
shorter than a target's `Retry-After`, bounded by a budget of attempts and total time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from connectors.errors import ConnectorConfigError

_JITTER = random.Random()  # noqa: S311 - spreads retries over time, not security


@dataclass(frozen=True)
class RetryPolicy:
    """The retry budget of one batch.

    The default budget waits out a target that is down for a few minutes (a CRM being
    redeployed, a printer out of paper) before a record goes to the dead letters with an
    alert: about 30 attempts over at most five minutes.

    Attributes:
        max_attempts: Deliveries of a record at most, the first one included.
        max_elapsed: Seconds from the first attempt after which no retry starts.
        base_delay: Upper bound of the first backoff, in seconds.
        max_delay: Upper bound of any backoff drawn by the policy, in seconds (a longer
            `Retry-After` is still honoured while the budget lasts).
    """

    max_attempts: int = 30
    max_elapsed: float = 300.0
    base_delay: float = 0.2
    max_delay: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            msg = f"max_attempts must be at least 1, got {self.max_attempts}"
            raise ConnectorConfigError(msg)
        if not 0 < self.base_delay <= self.max_delay:
            msg = (
                "delays must satisfy 0 < base_delay <= max_delay, "
                f"got {self.base_delay} and {self.max_delay}"
            )
            raise ConnectorConfigError(msg)

    def backoff_ceiling(self, attempt: int) -> float:
        """The longest backoff after failed attempt number `attempt` (1 = the first)."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))

    def next_delay(
        self,
        attempt: int,
        elapsed: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent.

        Args:
            attempt: How many attempts have failed so far (1 after the first failure).
            elapsed: Seconds since the first attempt started.
            retry_after: Seconds the target asked to wait, if it did.
            rng: Random source of the jitter (default: the module's generator).

        Returns:
            A delay drawn uniformly from `[0, backoff_ceiling(attempt)]`, raised to
            `retry_after` when that is longer; None when no attempt is left or the wait
            would end beyond `max_elapsed`.
        """
        if attempt >= self.max_attempts:
            return None
        jitter = (rng or _JITTER).uniform(0.0, self.backoff_ceiling(attempt))
        delay = max(jitter, retry_after or 0.0)
        return None if elapsed + delay > self.max_elapsed else delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Read a `Retry-After` header: delay seconds or an HTTP date.

    Args:
        value: The header value, if the answer had one.
        now: The current time, for HTTP dates (default: now in UTC).

    Returns:
        Seconds to wait (0 or more), or None when the header is absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
