from typing import Any, cast

import pytest
from faust.types import TableT

from streams.burst_profiles import BurstProfiles
from streams.profile import Profile


class RecordingTable(dict[str, dict[str, Any]]):
    """A dict standing in for the profile table that records every write and deletion."""

    def __init__(self, rows: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(rows or {})
        self.writes: list[str] = []
        self.deletions: list[str] = []

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.deletions.append(key)
        super().__delitem__(key)


def held(table: RecordingTable, written: list[Profile] | None = None) -> BurstProfiles:
    noted = [] if written is None else written
    return BurstProfiles(cast(TableT, table), written=noted.append)


def scored(customer_id: str, points: int) -> Profile:
    return Profile(customer_id, lead_score=points)


def test_a_profile_changed_twice_in_a_burst_is_written_once_when_it_ends() -> None:
    table = RecordingTable()
    profiles = held(table)

    profiles.changed(scored("c-1", 10))
    again = profiles.get("c-1")
    assert again is not None
    again.lead_score = 25
    profiles.changed(again)
    assert table.writes == []

    emitted = profiles.take_changed()

    assert table.writes == ["c-1"]
    assert table["c-1"]["lead_score"] == 25
    assert [profile.lead_score for profile in emitted] == [25]


def test_each_profile_written_is_reported_once_it_is_in_the_table() -> None:
    table, written = RecordingTable(), []
    profiles = held(table, written)
    profiles.changed(scored("c-1", 10))
    profiles.changed(scored("c-2", 20))
    assert written == []

    profiles.take_changed()

    assert [(profile.customer_id, table[profile.customer_id]) for profile in written] == [
        ("c-1", scored("c-1", 10).to_dict()),
        ("c-2", scored("c-2", 20).to_dict()),
    ]


def test_a_profile_not_held_is_read_from_the_table() -> None:
    table = RecordingTable({"c-1": scored("c-1", 7).to_dict()})
    profiles = held(table)

    found = profiles.get("c-1")

    assert found is not None
    assert found.lead_score == 7
    assert profiles.get("c-2") is None


def test_the_profiles_to_emit_come_sorted_by_customer_id_and_each_once() -> None:
    profiles = held(RecordingTable())
    for customer_id in ("c-3", "c-1", "c-2", "c-1"):
        profiles.changed(scored(customer_id, 1))

    assert [profile.customer_id for profile in profiles.take_changed()] == ["c-1", "c-2", "c-3"]
    assert profiles.take_changed() == []


def test_settling_writes_what_is_held_and_emits_what_the_table_holds_afterwards() -> None:
    table = RecordingTable()
    profiles = held(table)
    profiles.changed(scored("c-1", 10))

    profiles.settle()
    assert table.writes == ["c-1"]
    # Code working on the table itself (a campaign) changes the row after the settling.
    table["c-1"] = scored("c-1", 40).to_dict()

    emitted = profiles.take_changed()

    assert [profile.lead_score for profile in emitted] == [40]
    assert table.writes == ["c-1", "c-1"]


def test_a_redelivered_event_emits_the_profile_again_without_writing_it() -> None:
    table = RecordingTable({"c-1": scored("c-1", 7).to_dict()})
    profiles = held(table)
    current = profiles.get("c-1")
    assert current is not None

    profiles.emit_again(current)

    assert [profile.customer_id for profile in profiles.take_changed()] == ["c-1"]
    assert table.writes == []


def test_a_removed_profile_is_deleted_from_the_table_and_not_emitted() -> None:
    table = RecordingTable({"c-1": scored("c-1", 7).to_dict()})
    profiles = held(table)
    profiles.changed(scored("c-1", 9))
    profiles.changed(scored("c-2", 3))

    profiles.remove("c-1")
    profiles.remove("c-2")  # held only: nothing in the table to delete

    assert table.deletions == ["c-1"]
    assert profiles.take_changed() == []
    assert table == {}


def test_a_profile_whose_emission_is_forgotten_is_still_written() -> None:
    table = RecordingTable()
    profiles = held(table)
    profiles.changed(scored("c-1", 9))

    profiles.forget_emission("c-1")

    assert profiles.take_changed() == []
    assert table.writes == ["c-1"]


def test_a_change_that_fails_is_undone_and_the_bursts_earlier_changes_stay() -> None:
    table = RecordingTable()
    profiles = held(table)
    profiles.changed(scored("c-1", 10))  # an earlier event of the burst

    with pytest.raises(RuntimeError), profiles.changing("c-1"):
        current = profiles.get("c-1")
        assert current is not None
        current.lead_score = 99
        raise RuntimeError("the event's handling failed half-way")

    after = profiles.get("c-1")
    assert after is not None
    assert after.lead_score == 10
    assert [profile.lead_score for profile in profiles.take_changed()] == [10]
    assert table["c-1"]["lead_score"] == 10


def test_a_change_that_succeeds_stays() -> None:
    profiles = held(RecordingTable())
    profiles.changed(scored("c-1", 10))

    with profiles.changing("c-1"):
        current = profiles.get("c-1")
        assert current is not None
        current.lead_score = 30
        profiles.changed(current)

    assert [profile.lead_score for profile in profiles.take_changed()] == [30]


def test_a_failed_change_of_a_profile_read_from_the_table_leaves_the_table_as_it_was() -> None:
    table = RecordingTable({"c-1": scored("c-1", 7).to_dict()})
    profiles = held(table)

    with pytest.raises(RuntimeError), profiles.changing("c-1"):
        current = profiles.get("c-1")
        assert current is not None
        current.lead_score = 99
        raise RuntimeError("failed")

    assert profiles.take_changed() == []
    assert table.writes == []
    assert table["c-1"]["lead_score"] == 7
