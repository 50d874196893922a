"""The CPU an event costs the workers and the embedded broker, and how busy the cores were.

Two workers outrun one only where the cores have room for both and for the broker beside
them. What one event cost each process, read from ``/proc`` over a run, times the run's rate
says how many cores the run kept busy: near all of them, more workers cannot go faster.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BROKER = "broker"
"""The role of the embedded broker among the processes a run measures."""


def usable_cores() -> int:
    """The cores this process and its children may run on."""
    return len(os.sched_getaffinity(0))


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds a process used so far; None once it is gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds of each process by its role; a process that cannot be read is left out."""
    return {role: used for role, pid in pids.items() if (used := cpu_seconds(pid)) is not None}


@dataclass(frozen=True)
class CpuPerEvent:
    """Microseconds of CPU per source event, over one run.

    Attributes:
        workers: All worker processes together.
        broker: The embedded broker; None on a Kafka that runs elsewhere.
    """

    workers: float
    broker: float | None

    def cores_busy(self, eps: float) -> float:
        """How many cores the workers and the broker kept busy at ``eps`` events a second."""
        return (self.workers + (self.broker or 0.0)) * eps / 1_000_000

    def most_eps(self, cores: int) -> float:
        """The most events a second ``cores`` cores allow while an event costs this much.

        An upper bound: the benchmark's own reader and the system need CPU too. Two workers
        whose events cost more than one worker's cannot outrun it by more than this allows.
        """
        return cores * 1_000_000 / (self.workers + (self.broker or 0.0))


def cpu_per_event(
    start: Mapping[str, float], end: Mapping[str, float], events: int
) -> CpuPerEvent | None:
    """What ``events`` cost each role between two snapshots; None without a worker in both.

    Roles other than :data:`BROKER` are workers. A role missing from either snapshot is left
    out, as its share cannot be told.
    """
    used = {role: end[role] - start[role] for role in start.keys() & end.keys()}
    worker_seconds = [seconds for role, seconds in used.items() if role != BROKER]
    if not worker_seconds or events <= 0:
        return None
    broker = used.get(BROKER)
    return CpuPerEvent(
        workers=1_000_000 * sum(worker_seconds) / events,
        broker=None if broker is None else 1_000_000 * broker / events,
    )
