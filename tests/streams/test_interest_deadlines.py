"""The sweep learns which profiles' interest windows ended without reading every profile."""

from datetime import timedelta

from streams.interest_deadlines import InterestDeadlines
from streams.profile import Profile
from streams.table_walk import SLICE
from streams.triggers import due_interest_triggers
from tests.streams.test_profile import at, product_view
from tests.streams.test_triggers import SHORT, WINDOW, item, placed, process, viewed_twice

TRIGGER = SHORT.triggers.product_interest
WINDOW_END = at(1) + WINDOW
"""When the window of :func:`viewed_twice` ends: its second view starts it."""


def test_a_profile_is_due_when_its_window_ends_and_handed_out_once() -> None:
    deadlines = InterestDeadlines(TRIGGER)
    profile = viewed_twice()
    deadlines.note(profile)
    deadlines.note(Profile("c-nothing-watched"))

    assert deadlines.take_due(WINDOW_END - timedelta(milliseconds=1)) == []
    assert deadlines.take_due(WINDOW_END) == ["c-1"]
    assert deadlines.take_due(WINDOW_END + WINDOW) == []
    assert due_interest_triggers(profile, WINDOW_END, SHORT) != []  # what the sweep then plans


def test_a_profile_whose_interest_ended_is_no_longer_due() -> None:
    deadlines = InterestDeadlines(TRIGGER)
    profile = viewed_twice()
    deadlines.note(profile)

    process(profile, "shop.events", placed("o1", "order-1", item("RB-1", "road_bike"), minutes=2))
    deadlines.note(profile)

    assert deadlines.take_due(WINDOW_END + WINDOW) == []
    assert len(deadlines) == 0


def test_a_later_window_replaces_the_earlier_note() -> None:
    deadlines = InterestDeadlines(TRIGGER)
    profile = viewed_twice()
    deadlines.note(profile)
    due_interest_triggers(profile, WINDOW_END, SHORT)  # mailed: the window is closed
    later = at(10)
    process(profile, "shop.events", product_view("v3", "road_bike", minutes=9))
    process(profile, "shop.events", product_view("v4", "road_bike", minutes=10))
    deadlines.note(profile)

    assert deadlines.take_due(WINDOW_END) == []
    assert deadlines.take_due(later + WINDOW) == ["c-1"]


def test_the_queue_keeps_few_outdated_entries_however_often_a_profile_changes() -> None:
    deadlines = InterestDeadlines(TRIGGER)
    for change in range(5_000):  # the window end moves back and forth by a minute
        profile = Profile("c-1")
        process(profile, "shop.events", product_view(f"a{change}", "road_bike", minutes=change % 2))
        process(
            profile, "shop.events", product_view(f"b{change}", "road_bike", minutes=change % 2 + 1)
        )
        deadlines.note(profile)

    assert len(deadlines._queue) < 1_100
    assert deadlines.take_due(at(1) + WINDOW) == []  # the last change moved the end on
    assert deadlines.take_due(at(2) + WINDOW) == ["c-1"]
    assert deadlines.take_due(at(10) + WINDOW) == []


async def test_a_rebuild_notes_every_profile_of_the_table_and_clears_the_old_notes() -> None:
    deadlines = InterestDeadlines(TRIGGER)
    deadlines.note(viewed_twice(category="gone"))  # its partition went to another worker
    table = {f"c-{n}": Profile(f"c-{n}").to_dict() for n in range(2 * SLICE)}
    table["c-1"] = viewed_twice().to_dict()
    assert deadlines.stale

    await deadlines.rebuild(table)

    assert not deadlines.stale
    assert len(deadlines) == 1
    assert deadlines.take_due(WINDOW_END) == ["c-1"]
