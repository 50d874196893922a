"""The way of a letter through the devices: render → print → frank → dispatch, exactly once.

Every attempt is stored in SQLite first, so a restart resumes at the failed step and never
repeats a succeeded one; the stored attempts are also the outbox of `device.steps` and alerts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import structlog

from connectors.errors import ConnectorError
from schemas.job_variables import JobCampaign, campaign_of
from streams.settings import DEVICE_STEPS

log = structlog.get_logger(__name__)

STORE_NAME: Final = "print-steps.sqlite3"
StepStatus = Literal["succeeded", "failed"]
_MAX_ERROR_CHARS: Final = 500

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS attempts (
    job_id TEXT NOT NULL,
    step TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    permanent INTEGER NOT NULL DEFAULT 0,
    reference TEXT,
    occurred_at TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, step, attempt)
);
CREATE INDEX IF NOT EXISTS attempts_unreported ON attempts (reported) WHERE reported = 0;
CREATE TABLE IF NOT EXISTS documents (
    job_id TEXT PRIMARY KEY,
    pdf BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS job_campaigns (
    job_id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    responsible TEXT
);
"""


class DeviceError(ConnectorError):
    """A device did not perform a step.

    Attributes:
        device_id: The device that failed (or that could not be reached).
        code: A short machine-readable reason, e.g. `HTTP_503` or `UNREACHABLE`.
        permanent: True when trying again cannot help (e.g. a template that cannot render).
    """

    def __init__(self, message: str, *, device_id: str, code: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.device_id = device_id
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class PrintJob:
    """A letter to send, as `outbound.print` carries it (CONTRACT §2)."""

    job_id: str
    customer_id: str
    template: str
    address_lines: tuple[str, ...]
    street: str
    postal_code: str
    city: str
    country: str
    salutation: str
    variables: Mapping[str, str]
    created_at: datetime

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> PrintJob:
        """Build a job from a decoded `outbound.print` value."""
        address = value["address"]
        return cls(
            job_id=value["job_id"],
            customer_id=value["customer_id"],
            template=value["template"],
            address_lines=tuple(address.get("lines") or ()),
            street=address["street"],
            postal_code=address["postal_code"],
            city=address["city"],
            country=address["country"],
            salutation=value["salutation"],
            variables=dict(value.get("variables") or {}),
            created_at=value["created_at"],
        )

    @property
    def campaign_id(self) -> str | None:
        """The campaign the letter belongs to, if a campaign made it."""
        return campaign_of(self.variables).campaign_id

    @property
    def campaign_responsible(self) -> str | None:
        """Who the campaign's request named as responsible, if anyone."""
        return campaign_of(self.variables).responsible


@dataclass(frozen=True)
class Receipt:
    """A device's confirmation of a step.

    Attributes:
        device_id: The device that performed the step.
        reference: What the device calls the result (printer job, franking id, ...).
        document: The rendered PDF; set by the render step only.
    """

    device_id: str
    reference: str = ""
    document: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StepContext:
    """What a device gets to perform one step of a job.

    Attributes:
        job: The job.
        attempt: The number of this attempt of the step, from 1.
        document: The rendered letter, once the render step succeeded.
        receipts: The receipts of the steps that succeeded, by step.
    """

    job: PrintJob
    attempt: int
    document: bytes | None
    receipts: Mapping[str, Receipt]


class Device(Protocol):
    """Something that performs one step of a job: a renderer, printer, franking or dispatch."""

    @property
    def device_id(self) -> str:
        """The device's id, reported when it fails before saying its own."""

    async def perform(self, context: StepContext) -> Receipt:
        """Perform the step for the job in `context`.

        Raises:
            DeviceError: The step was not performed.
        """


@dataclass(frozen=True)
class StepAttempt:
    """One recorded attempt of a step: the content of a `device.steps` event."""

    job_id: str
    step: str
    attempt: int
    device_id: str
    status: StepStatus
    occurred_at: datetime
    error_code: str | None = None
    error_message: str | None = None
    permanent: bool = False
    reference: str = ""


class StepFailed(ConnectorError):
    """A step of a job failed; the job stopped there and resumes there next time.

    Attributes:
        attempt: The recorded failed attempt.
    """

    def __init__(self, attempt: StepAttempt) -> None:
        super().__init__(
            f"{attempt.step} of job {attempt.job_id} failed on {attempt.device_id} "
            f"(attempt {attempt.attempt}): {attempt.error_code}"
        )
        self.attempt = attempt


def alert_id(job_id: str, step: str, attempt: int) -> str:
    """The id of the alert for a failed attempt: the same whenever that attempt is reported."""
    return f"device_step_failed:{job_id}:{step}:{attempt}"


def step_event(attempt: StepAttempt) -> dict[str, Any]:
    """The `device.steps` value of an attempt."""
    return {
        "job_id": attempt.job_id,
        "step": attempt.step,
        "device_id": attempt.device_id,
        "status": attempt.status,
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "attempt": attempt.attempt,
        "occurred_at": attempt.occurred_at,
    }


def failure_alert(
    attempt: StepAttempt, responsible: str | None, campaign_id: str | None = None
) -> dict[str, Any]:
    """The `alerts` value of a failed attempt: a warning, critical when it cannot be retried."""
    outcome = "the job goes to the dead letters" if attempt.permanent else "the step is retried"
    return {
        "alert_id": alert_id(attempt.job_id, attempt.step, attempt.attempt),
        "kind": "device_step_failed",
        "severity": "critical" if attempt.permanent else "warning",
        "source": attempt.device_id,
        "job_id": attempt.job_id,
        "campaign_id": campaign_id,
        "message": (
            f"{attempt.step} failed on device {attempt.device_id} for job {attempt.job_id} "
            f"(attempt {attempt.attempt}, {attempt.error_code}): {attempt.error_message}; "
            f"{outcome}"
        ),
        "responsible": responsible,
        "occurred_at": attempt.occurred_at,
    }


class StepStore:
    """Attempts and rendered documents of print jobs in `<data_dir>/print-steps.sqlite3`.

    The attempts form an outbox: each becomes a `device.steps` event (and, when it failed, an
    `alerts` event) whose ids derive from (job, step, attempt), so publishing one twice after
    a crash changes nothing downstream.

    Each call is a few statements in autocommit mode, quick enough for the event loop; use
    it from one thread. Run one print connector per store: two processes sharing jobs but
    not the store could print a letter twice.
    """

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / STORE_NAME
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database; the store is unusable afterwards."""
        self._db.close()

    def receipts(self, job_id: str) -> dict[str, Receipt]:
        """The receipts of the steps of a job that succeeded, by step."""
        rows = self._db.execute(
            "SELECT step, device_id, reference FROM attempts "
            "WHERE job_id = ? AND status = 'succeeded'",
            (job_id,),
        )
        return {step: Receipt(device_id, reference or "") for step, device_id, reference in rows}

    def next_attempt(self, job_id: str, step: str) -> int:
        """The number of the next attempt of a step, from 1."""
        (last,) = self._db.execute(
            "SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE job_id = ? AND step = ?",
            (job_id, step),
        ).fetchone()
        return int(last) + 1

    def record(self, attempt: StepAttempt, document: bytes | None = None) -> None:
        """Store an attempt, unreported, together with the document it produced, if any."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR IGNORE INTO attempts (job_id, step, attempt, device_id, status, "
                "error_code, error_message, permanent, reference, occurred_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt.job_id,
                    attempt.step,
                    attempt.attempt,
                    attempt.device_id,
                    attempt.status,
                    attempt.error_code,
                    attempt.error_message,
                    int(attempt.permanent),
                    attempt.reference,
                    attempt.occurred_at.isoformat(),
                ),
            )
            if document is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO documents (job_id, pdf) VALUES (?, ?)",
                    (attempt.job_id, document),
                )

    def note_campaign(self, job: PrintJob) -> None:
        """Remember the campaign of a job and its responsible, for the alerts of its steps."""
        if job.campaign_id is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO job_campaigns (job_id, campaign_id, responsible) "
                "VALUES (?, ?, ?)",
                (job.job_id, job.campaign_id, job.campaign_responsible),
            )

    def campaign_of(self, job_id: str) -> JobCampaign:
        """The campaign of a job and the responsible its request named; Nones if neither."""
        row = self._db.execute(
            "SELECT campaign_id, responsible FROM job_campaigns WHERE job_id = ?", (job_id,)
        ).fetchone()
        return JobCampaign(row[0], row[1]) if row else JobCampaign(None, None)

    def document(self, job_id: str) -> bytes | None:
        """The rendered letter of a job, until the job is dispatched."""
        row = self._db.execute("SELECT pdf FROM documents WHERE job_id = ?", (job_id,)).fetchone()
        return bytes(row[0]) if row else None

    def drop_document(self, job_id: str) -> None:
        """Forget the rendered letter of a job that needs it no more."""
        self._db.execute("DELETE FROM documents WHERE job_id = ?", (job_id,))

    def unreported(self) -> list[StepAttempt]:
        """The attempts not yet confirmed as published, oldest first."""
        rows = self._db.execute(
            "SELECT job_id, step, attempt, device_id, status, occurred_at, error_code, "
            "error_message, permanent, COALESCE(reference, '') FROM attempts WHERE reported = 0 "
            "ORDER BY occurred_at, job_id, attempt"
        )
        return [
            StepAttempt(
                job, step, n, device, status, datetime.fromisoformat(at), code, text, bool(p), ref
            )
            for job, step, n, device, status, at, code, text, p, ref in rows
        ]

    def mark_reported(self, attempts: Iterable[StepAttempt]) -> None:
        """Remember that these attempts were published."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE attempts SET reported = 1 WHERE job_id = ? AND step = ? AND attempt = ?",
                [(a.job_id, a.step, a.attempt) for a in attempts],
            )


class StepMachine:
    """Drives jobs through the device steps in order, recording every attempt first.

    Args:
        store: Where attempts and documents are kept.
        devices: The device of each step; every step of `DEVICE_STEPS` needs one.
        clock: The current time (UTC), for `occurred_at`.
    """

    def __init__(
        self,
        store: StepStore,
        devices: Mapping[str, Device],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        missing = [step for step in DEVICE_STEPS if step not in devices]
        if missing:
            msg = f"no device for the steps {missing}"
            raise ConnectorError(msg)
        self.store = store
        self._devices = devices
        self._clock = clock

    async def advance(self, job: PrintJob) -> list[str]:
        """Perform the steps of a job that have not succeeded yet, in order.

        Returns:
            The steps performed now; empty when the job was already done.

        Raises:
            StepFailed: A step failed; it and the steps after it wait for the next call.
        """
        self.store.note_campaign(job)
        receipts = self.store.receipts(job.job_id)
        document = self.store.document(job.job_id)
        performed: list[str] = []
        for step in DEVICE_STEPS:
            if step in receipts:
                continue
            attempt = self.store.next_attempt(job.job_id, step)
            device = self._devices[step]
            context = StepContext(job, attempt, document, dict(receipts))
            try:
                receipt = await device.perform(context)
            except DeviceError as exc:
                failed = StepAttempt(
                    job_id=job.job_id,
                    step=step,
                    attempt=attempt,
                    device_id=exc.device_id,
                    status="failed",
                    occurred_at=self._clock(),
                    error_code=exc.code,
                    error_message=str(exc)[:_MAX_ERROR_CHARS],
                    permanent=exc.permanent,
                )
                self.store.record(failed)
                log.warning(
                    "device_step_failed",
                    job_id=job.job_id,
                    step=step,
                    attempt=attempt,
                    device_id=exc.device_id,
                    error_code=exc.code,
                )
                raise StepFailed(failed) from exc
            done = StepAttempt(
                job_id=job.job_id,
                step=step,
                attempt=attempt,
                device_id=receipt.device_id,
                status="succeeded",
                occurred_at=self._clock(),
                reference=receipt.reference,
            )
            self.store.record(done, receipt.document)
            receipts[step] = receipt
            document = receipt.document or document
            performed.append(step)
            log.info("device_step_succeeded", job_id=job.job_id, step=step, attempt=attempt)
        self.store.drop_document(job.job_id)
        return performed
