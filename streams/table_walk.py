"""Walking a whole table without pausing the worker: a slice of rows at a time.

Code that reads every row a worker holds (rebuilding the interest sweep's notes, a campaign
part picking its people) would otherwise hold the event loop for as long as the walk takes,
which grows with the table, while no other agent reads an event. The keys are taken first, so
rows written between two slices (by another agent, or by the changelog of a standby copy)
cannot upset the walk; a row deleted meanwhile is passed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

SLICE = 500
"""Keys looked at between two chances for the event loop to run other tasks."""


async def rows_in_slices(
    table: Mapping[str, Any], wanted: Callable[[str], bool] | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """Yield the rows of the table, or of the keys ``wanted`` accepts, a slice at a time."""
    for position, key in enumerate(list(table.keys()), start=1):
        if wanted is None or wanted(key):
            value = table.get(key)
            if value is not None:
                yield key, value
        if position % SLICE == 0:
            await asyncio.sleep(0)
