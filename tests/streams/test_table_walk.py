"""A whole table is walked a slice at a time, and rows written or deleted meanwhile do no harm."""

import asyncio

from streams.table_walk import SLICE, rows_in_slices


async def test_every_wanted_row_is_yielded_and_other_tasks_run_between_slices() -> None:
    table = {f"c-{n}": {"n": n} for n in range(3 * SLICE)}
    ticks = 0

    async def other_agent() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_agent())
    await asyncio.sleep(0)
    started = ticks
    rows = [row async for row in rows_in_slices(table, lambda key: key.endswith("7"))]
    other.cancel()

    assert rows == [(key, value) for key, value in table.items() if key.endswith("7")]
    assert ticks - started >= 2  # the loop ran the other task while the walk went on


async def test_rows_written_or_deleted_during_the_walk_do_not_upset_it() -> None:
    table = {f"c-{n}": {"n": n} for n in range(2 * SLICE)}
    seen = []
    async for key, _ in rows_in_slices(table):
        seen.append(key)
        if len(seen) == 1:
            table["c-new"] = {"n": -1}  # a write by another agent, or by a standby's changelog
            del table[f"c-{2 * SLICE - 1}"]  # a deletion of a row not yet walked

    assert seen == [f"c-{n}" for n in range(2 * SLICE - 1)]
