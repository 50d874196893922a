"""Supervised child processes for `journeyhub up`: start, watch, restart, stop.

Each part of the local stack runs as its own process so that a crash of one part is seen,
reported and repaired without taking the others down, and Ctrl-C stops all of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

STOP_GRACE_SECONDS = 8.0
RESTART_BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0)


@dataclass
class Part:
    """One supervised process: its name, its command and how often it was restarted."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    exits: list[int] = field(default_factory=list)

    def start(self, env: Mapping[str, str]) -> None:
        """Start (or restart) the process, appending its output to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own executable and arguments
                list(self.argv), stdout=output, stderr=subprocess.STDOUT, env={**env, **self.env}
            )

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None


def journeyhub_command(*args: str) -> list[str]:
    """The command line that runs a journeyhub subcommand with this interpreter."""
    return module_command("streams.cli", *args)


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs a module of ours with this interpreter."""
    return [sys.executable, "-m", module, *args]


class Supervisor:
    """Keeps a set of parts running until asked to stop."""

    def __init__(self, parts: Sequence[Part], env: Mapping[str, str], say: Callable[[str], None]):
        self.parts = list(parts)
        self._env = env
        self._say = say
        self._stopping = False

    def start_all(self) -> None:
        """Start every part."""
        for part in self.parts:
            part.start(self._env)

    def request_stop(self, *_: object) -> None:
        """Signal handler: leave the watch loop at the next tick."""
        self._stopping = True

    def watch(self, tick: float = 0.5) -> None:
        """Restart parts that died, with backoff, until a stop is requested."""
        with self.stopping_on_signals():
            while not self._stopping:
                self._restart_dead_parts()
                time.sleep(tick)

    @contextlib.contextmanager
    def stopping_on_signals(self) -> Iterator[None]:
        """Within the block, SIGINT and SIGTERM request a stop instead of interrupting.

        A caller that is about to watch enters it earlier, so that Ctrl-C in between (say,
        while a summary is printed) still stops the stack cleanly once it watches.
        """
        previous_int = signal.signal(signal.SIGINT, self.request_stop)
        previous_term = signal.signal(signal.SIGTERM, self.request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous_term)

    def _restart_dead_parts(self) -> None:
        now = time.monotonic()
        for part in self.parts:
            if part.running or part.process is None:
                continue
            if part.next_start == 0.0:
                code = part.process.returncode
                part.exits.append(code)
                delay = RESTART_BACKOFF_SECONDS[
                    min(part.restarts, len(RESTART_BACKOFF_SECONDS) - 1)
                ]
                part.next_start = now + delay
                self._say(
                    f"{part.name} exited with code {code}; restarting in {delay:.0f} s "
                    f"(log: {part.log_path})"
                )
                log.warning("part_exited", part=part.name, code=code, restarts=part.restarts)
            elif now >= part.next_start:
                part.restarts += 1
                part.next_start = 0.0
                part.start(self._env)
                self._say(f"{part.name} restarted")

    def stop_all(self) -> None:
        """SIGTERM every part, then SIGKILL what is still alive after the grace period."""
        for part in self.parts:
            if part.running and part.process is not None:
                part.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for part in self.parts:
            if part.process is None:
                continue
            try:
                part.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                part.process.kill()
                part.process.wait()


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child: ours plus what the stack decided (broker address etc.)."""
    env = dict(os.environ)
    env.update(overrides)
    return env
