import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.production import (
    ChipStatus,
    ChipTrack,
    ProductionError,
    apply_step,
    newer_status,
    status_of,
)

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def reading(event_id: str, step: str, status: str, minutes: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "chip_id": "chip-1",
        "order_id": "O-1",
        "sku": "SHOE-42",
        "station_id": f"st-{step}",
        "step": step,
        "status": status,
        "occurred_at": START + timedelta(minutes=minutes),
        "detail": None,
        **extra,
    }


def test_steps_read_in_time_order_even_when_they_arrive_out_of_order() -> None:
    track = ChipTrack("chip-1")
    for event in [
        reading("e3", "stitching", "started", 30),
        reading("e1", "material_tagged", "completed", 0),
        reading("e2", "cutting", "completed", 10),
    ]:
        apply_step(track, event)
    assert [step.step for step in track.steps] == ["material_tagged", "cutting", "stitching"]
    assert (track.current_step, track.current_status) == ("stitching", "started")


def test_a_redelivered_reading_is_recorded_once() -> None:
    track = ChipTrack("chip-1")
    assert apply_step(track, reading("e1", "cutting", "started", 0)) is True
    assert apply_step(track, reading("e1", "cutting", "started", 0)) is False
    assert len(track.steps) == 1


def test_a_failed_step_stays_visible_after_the_retry_succeeds() -> None:
    track = ChipTrack("chip-1")
    apply_step(track, reading("e1", "quality_check", "failed", 0, detail="seam open"))
    apply_step(track, reading("e2", "quality_check", "completed", 20))
    api = track.to_api()
    assert [(step["step"], step["status"]) for step in api["steps"]] == [
        ("quality_check", "failed"),
        ("quality_check", "completed"),
    ]
    assert (api["current_step"], api["current_status"]) == ("quality_check", "completed")


def test_failure_reported_last_is_the_current_status() -> None:
    track = ChipTrack("chip-1")
    apply_step(track, reading("e1", "assembly", "started", 0))
    apply_step(track, reading("e2", "assembly", "failed", 5))
    assert (track.current_step, track.current_status) == ("assembly", "failed")


def test_tracking_view_matches_the_contract() -> None:
    track = ChipTrack("chip-1", customer_id="c-1")
    apply_step(track, reading("e1", "packed", "completed", 0))
    assert track.to_api() == {
        "chip_id": "chip-1",
        "order_id": "O-1",
        "customer_id": "c-1",
        "current_step": "packed",
        "current_status": "completed",
        "steps": [
            {
                "step": "packed",
                "status": "completed",
                "station_id": "st-packed",
                "occurred_at": "2026-03-02T08:00:00.000Z",
            }
        ],
    }


def test_an_unread_chip_has_no_current_step() -> None:
    api = ChipTrack("chip-9").to_api()
    assert (api["current_step"], api["current_status"], api["steps"]) == (None, None, [])


def test_track_survives_a_json_round_trip() -> None:
    track = ChipTrack("chip-1", customer_id="c-1")
    apply_step(track, reading("e1", "cutting", "failed", 0, detail="blade"))
    apply_step(track, reading("e2", "cutting", "completed", 3))
    restored = ChipTrack.from_dict(json.loads(json.dumps(track.to_dict())))
    assert restored == track


@pytest.mark.parametrize(("field", "value"), [("step", "painting"), ("status", "paused")])
def test_unknown_step_or_status_is_rejected_with_the_event_id(field: str, value: str) -> None:
    with pytest.raises(ProductionError, match=f"event e1: unknown {field} '{value}'"):
        apply_step(ChipTrack("chip-1"), {**reading("e1", "cutting", "started", 0), field: value})


def test_reading_of_another_chip_is_rejected() -> None:
    with pytest.raises(ProductionError, match="is for chip chip-2, not chip-1"):
        apply_step(ChipTrack("chip-1"), reading("e1", "cutting", "started", 0, chip_id="chip-2"))


def test_profile_summary_keeps_the_newest_reading_whatever_the_arrival_order() -> None:
    early = status_of(reading("e1", "cutting", "completed", 0))
    late = status_of(reading("e2", "packed", "completed", 60, order_id=None))
    for first, second in [(early, late), (late, early)]:
        newest = newer_status(newer_status(None, first), second)
        assert newest == ChipStatus("chip-1", "O-1", "packed", "completed", late.occurred_at)
