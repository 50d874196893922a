"""When the product-interest windows of the profiles held here end, soonest first.

The interest sweep (:func:`streams.journey_agent.start_interest_sweep`) looks for profiles
whose window ended without an order. Reading every profile on every round paused the worker's
event loop for a time that grows with the profiles it holds (about 33 µs a profile: 0.17 s
for 5,000 profiles, 1.5 s for 50,000, every round). A profile's next window end is known
whenever it is written, so the profile agent notes it here, and a round of the sweep takes
only the ends that passed.

The notes live in memory. Partitions that come with a rebalance, and a table recovered after a
restart, hold profiles nobody noted here, so after either the sweep reads the table once more,
a slice at a time, letting events in between. An outdated note does no harm: a sweep command
for a profile with nothing due changes nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.normalize import to_epoch_ms
from streams.profile import Profile
from streams.rules import ProductInterestTrigger
from streams.table_walk import rows_in_slices
from streams.triggers import interest_window_end

QUEUE_SLACK = 1_024
"""Outdated entries the queue may hold beyond twice the live ones before it is compacted."""


class InterestDeadlines:
    """The next product-interest window end of each profile held here."""

    def __init__(self, trigger: ProductInterestTrigger) -> None:
        """Start empty and stale: the first round of the sweep reads the table."""
        self._trigger = trigger
        self._ends: dict[str, int] = {}
        """Customer id -> epoch ms at which its first open window ends."""
        self._queue: list[tuple[int, str]] = []
        """(end, customer id), soonest first; an entry no longer in ``_ends`` is outdated."""
        self.stale = True
        """True when the table may hold profiles not noted here (after a rebalance)."""

    def __len__(self) -> int:
        return len(self._ends)

    def note(self, profile: Profile) -> None:
        """Remember when the profile's first open window ends, as it is written."""
        end = interest_window_end(profile, self._trigger)
        if end is None:
            self._ends.pop(profile.customer_id, None)
            return
        moment = to_epoch_ms(end)
        if self._ends.get(profile.customer_id) == moment:
            return
        self._ends[profile.customer_id] = moment
        heapq.heappush(self._queue, (moment, profile.customer_id))
        if len(self._queue) > 2 * len(self._ends) + QUEUE_SLACK:
            self._queue = [(end, customer_id) for customer_id, end in self._ends.items()]
            heapq.heapify(self._queue)

    def take_due(self, now: datetime) -> list[str]:
        """The customers whose window ended at or before ``now``; each is handed out once."""
        moment = to_epoch_ms(now)
        due = []
        while self._queue and self._queue[0][0] <= moment:
            end, customer_id = heapq.heappop(self._queue)
            if self._ends.get(customer_id) == end:
                del self._ends[customer_id]
                due.append(customer_id)
        return due

    async def rebuild(self, table: Mapping[str, Mapping[str, Any]]) -> None:
        """Note every profile of the table afresh, a slice at a time (:mod:`streams.table_walk`).

        A rebalance during the walk makes the notes stale again, for the next round.
        """
        self.stale = False
        self._ends.clear()
        self._queue.clear()
        async for _, stored in rows_in_slices(table):
            self.note(Profile.from_dict(stored))
