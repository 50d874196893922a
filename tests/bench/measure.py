"""Turning counters sampled over time into rates: when a run started, when it was done.

Every scenario watches a count grow (records on a topic, events a worker read) and asks the
same two questions, so they are answered once, here, without any Kafka in sight.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

SAMPLE_INTERVAL = 0.2


class BenchTimeoutError(RuntimeError):
    """A scenario did not finish in time; the message says how far it got."""


@dataclass(frozen=True)
class Throughput:
    """Events handled and the seconds it took, from the first one seen to the last.

    Attributes:
        events: Events counted between the first sample that saw any and the end.
        seconds: Time between those two samples.
    """

    events: int
    seconds: float

    @property
    def eps(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Series:
    """Samples ``(monotonic time, count)`` of one counter, relative to its first value."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    _base: int | None = None

    def add(self, at: float, count: int) -> None:
        """Record the counter's value at ``at``."""
        if self._base is None:
            self._base = count
        self.samples.append((at, count - self._base))

    @property
    def last(self) -> int:
        """The latest count, 0 before the first sample."""
        return self.samples[-1][1] if self.samples else 0

    def started_at(self) -> tuple[float, int] | None:
        """The first sample with a count above zero, or None while there is none."""
        return next(((at, n) for at, n in self.samples if n > 0), None)

    def reached_at(self, target: int) -> float | None:
        """When the count first reached ``target``, or None."""
        return next((at for at, n in self.samples if n >= target), None)

    def last_change_at(self) -> float | None:
        """When the count last changed, or None if it never did."""
        changed = None
        for (_, before), (at, now) in zip(self.samples, self.samples[1:], strict=False):
            if now != before:
                changed = at
        return changed


def throughput(series: Series, done_at: float) -> Throughput:
    """The rate of a run from its first counted event to ``done_at``.

    The first sample that saw events starts the clock and its events are not counted, so
    start-up (group join, recovery) never enters the figure.
    """
    start = series.started_at()
    if start is None:
        return Throughput(0, 0.0)
    started, already = start
    return Throughput(series.last - already, max(done_at - started, 0.0))


def watch(
    count: Callable[[], int],
    target: int,
    timeout: float,
    what: str,
    interval: float = SAMPLE_INTERVAL,
) -> Series:
    """Sample ``count`` until it grew by ``target``.

    Raises:
        BenchTimeoutError: It did not within ``timeout`` seconds.
    """
    series = Series()
    deadline = time.monotonic() + timeout
    while True:
        series.add(time.monotonic(), count())
        if series.last >= target:
            return series
        if time.monotonic() > deadline:
            msg = f"{what}: {series.last} of {target} events after {timeout:g} s"
            raise BenchTimeoutError(msg)
        time.sleep(interval)
