"""RFID tracking of items in production: where each chip is and what happened to it.

Readers report steps late and out of order; a chip's history must still read in time order,
a redelivered reading must not appear twice, and a failed step must stay visible.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from streams.errors import JourneyhubError
from streams.normalize import from_epoch_ms, iso_utc, to_epoch_ms

STEPS = (
    "material_tagged",
    "cutting",
    "stitching",
    "sole_molding",
    "assembly",
    "quality_check",
    "packed",
    "shipped",
)
STATUSES = ("started", "completed", "failed")


class ProductionError(JourneyhubError):
    """An RFID reading names a step or status that production does not have."""


def progress_key(occurred_at: datetime, step: str, status: str) -> tuple[int, int, int]:
    """Order of two readings: the later one is newer; at the same time, the later step.

    Args:
        occurred_at: When the reader saw the chip.
        step: One of :data:`STEPS`.
        status: One of :data:`STATUSES`; at the same time and step, a failure counts last.

    Returns:
        A key that sorts readings from oldest to newest.
    """
    return (to_epoch_ms(occurred_at), STEPS.index(step), STATUSES.index(status))


@dataclass(frozen=True)
class StepEvent:
    """One reading of a chip at a production station."""

    event_id: str
    step: str
    status: str
    station_id: str
    occurred_at: datetime
    detail: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "StepEvent":
        """Build a reading from a ``rfid.production`` value.

        Args:
            record: The decoded event.

        Returns:
            The reading.

        Raises:
            ProductionError: The step or status is not one production knows.
        """
        step, status = record["step"], record["status"]
        if step not in STEPS:
            msg = f"event {record['event_id']}: unknown step {step!r}; expected one of {STEPS}"
            raise ProductionError(msg)
        if status not in STATUSES:
            msg = (
                f"event {record['event_id']}: unknown status {status!r}; expected one of {STATUSES}"
            )
            raise ProductionError(msg)
        return cls(
            event_id=record["event_id"],
            step=step,
            status=status,
            station_id=record["station_id"],
            occurred_at=record["occurred_at"],
            detail=record.get("detail"),
        )

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        """Time order, made total by the event id."""
        return (*progress_key(self.occurred_at, self.step, self.status), self.event_id)

    def to_dict(self) -> dict[str, Any]:
        """Return the reading as a JSON-able dict for a state table."""
        return {
            "event_id": self.event_id,
            "step": self.step,
            "status": self.status,
            "station_id": self.station_id,
            "occurred_at": to_epoch_ms(self.occurred_at),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StepEvent":
        """Rebuild a reading from :meth:`to_dict`."""
        return cls(**{**data, "occurred_at": from_epoch_ms(data["occurred_at"])})


@dataclass
class ChipTrack:
    """The production history of one chip; the agent sets ``customer_id`` once it is known."""

    chip_id: str
    order_id: str | None = None
    customer_id: str | None = None
    steps: list[StepEvent] = field(default_factory=list)

    @property
    def current_step(self) -> str | None:
        """The newest step by time, or None before the first reading."""
        return self.steps[-1].step if self.steps else None

    @property
    def current_status(self) -> str | None:
        """The status of the newest step, or None before the first reading."""
        return self.steps[-1].status if self.steps else None

    def to_api(self) -> dict[str, Any]:
        """Return the body of ``GET /tracking/{chip_id}`` (CONTRACT section 4)."""
        return {
            "chip_id": self.chip_id,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "current_step": self.current_step,
            "current_status": self.current_status,
            "steps": [
                {
                    "step": step.step,
                    "status": step.status,
                    "station_id": step.station_id,
                    "occurred_at": iso_utc(step.occurred_at),
                }
                for step in self.steps
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the track as a JSON-able dict for a state table."""
        return {
            "chip_id": self.chip_id,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "steps": [step.to_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ChipTrack":
        """Rebuild a track from :meth:`to_dict`."""
        return cls(
            chip_id=data["chip_id"],
            order_id=data["order_id"],
            customer_id=data["customer_id"],
            steps=[StepEvent.from_dict(step) for step in data["steps"]],
        )


def apply_step(track: ChipTrack, record: Mapping[str, Any]) -> bool:
    """Add an ``rfid.production`` reading to the chip's history, in time order.

    Args:
        track: The chip's history; changed in place.
        record: The decoded event of the same chip.

    Returns:
        True when the history changed; False for a reading already recorded.

    Raises:
        ProductionError: The reading belongs to another chip or names an unknown step.
    """
    if record["chip_id"] != track.chip_id:
        msg = f"event {record['event_id']} is for chip {record['chip_id']}, not {track.chip_id}"
        raise ProductionError(msg)
    if any(step.event_id == record["event_id"] for step in track.steps):
        return False
    reading = StepEvent.from_record(record)
    track.steps.append(reading)
    track.steps.sort(key=lambda step: step.sort_key)
    if track.order_id is None:
        track.order_id = record.get("order_id")
    return True


@dataclass(frozen=True)
class ChipStatus:
    """Where one of a person's items is now: the summary a profile keeps per chip."""

    chip_id: str
    order_id: str | None
    step: str
    status: str
    occurred_at: datetime

    def to_api(self) -> dict[str, Any]:
        """Return the entry of the profile's ``production`` list (CONTRACT section 4)."""
        return {
            "chip_id": self.chip_id,
            "order_id": self.order_id,
            "current_step": self.step,
            "current_status": self.status,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-able dict."""
        return {**self.to_api(), "occurred_at": to_epoch_ms(self.occurred_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ChipStatus":
        """Rebuild a summary from :meth:`to_dict`."""
        return cls(
            chip_id=data["chip_id"],
            order_id=data["order_id"],
            step=data["current_step"],
            status=data["current_status"],
            occurred_at=from_epoch_ms(data["occurred_at"]),
        )


def newer_status(current: ChipStatus | None, candidate: ChipStatus) -> ChipStatus:
    """Return the newer of two summaries of the same chip, keeping a known order id.

    Args:
        current: The summary so far, if any.
        candidate: The summary from a new reading (or from a merged profile).

    Returns:
        The summary of the newest reading.
    """
    if current is None:
        return candidate
    newest, other = current, candidate
    if progress_key(candidate.occurred_at, candidate.step, candidate.status) > progress_key(
        current.occurred_at, current.step, current.status
    ):
        newest, other = candidate, current
    if newest.order_id is None and other.order_id is not None:
        return replace(newest, order_id=other.order_id)
    return newest


def status_of(record: Mapping[str, Any]) -> ChipStatus:
    """Return the summary of one ``rfid.production`` reading.

    Args:
        record: The decoded event.

    Returns:
        The chip's state as this reading shows it.

    Raises:
        ProductionError: The reading names an unknown step or status.
    """
    reading = StepEvent.from_record(record)
    return ChipStatus(
        record["chip_id"], record.get("order_id"), reading.step, reading.status, reading.occurred_at
    )
