"""Simulated print-room devices: a printer writing PDFs, franking and dispatch over HTTP.

They stand in for the real machines in `journeyhub up`, demos and tests, and fail on purpose
when `JOURNEYHUB_DEVICE_FAULTS` says so (e.g. `frank:2,print:1`) to drill alerts and retries.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote

import structlog
from aiohttp import web

from connectors.device_steps import DeviceError, Receipt, StepContext
from connectors.shutdown import wait_for_shutdown_signal
from streams.errors import SettingsError
from streams.logs import configure_logging
from streams.settings import Settings

log = structlog.get_logger(__name__)

PostalStep = Literal["frank", "dispatch"]
DEFAULT_FRANKING_PORT: Final = 8101
DEFAULT_DISPATCH_PORT: Final = 8102
DEFAULT_FRANKING_URL: Final = f"http://127.0.0.1:{DEFAULT_FRANKING_PORT}"
DEFAULT_DISPATCH_URL: Final = f"http://127.0.0.1:{DEFAULT_DISPATCH_PORT}"
DEVICE_PATHS: Final[Mapping[str, str]] = {"frank": "/frankings", "dispatch": "/dispatches"}
SIMULATED_PRINTER_ID: Final = "sim-printer"
_DEVICE_IDS: Final[Mapping[str, str]] = {"frank": "sim-franking-1", "dispatch": "sim-dispatch-1"}
_FAULT_CODES: Final[Mapping[str, str]] = {
    "render": "RENDER_FAULT",
    "print": "PAPER_JAM",
    "frank": "INK_EMPTY",
    "dispatch": "CONVEYOR_BLOCKED",
}
_PLAIN_FILE_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:@+=-]*")


@dataclass
class FaultPlan:
    """How many of the next attempts of each step fail on purpose (a drill).

    Attributes:
        remaining: Step → failures still to inject; read from `JOURNEYHUB_DEVICE_FAULTS`.
    """

    remaining: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> FaultPlan:
        """The faults `JOURNEYHUB_DEVICE_FAULTS` asks for."""
        return cls(dict(settings.device_faults))

    def due(self, step: str, device_id: str) -> DeviceError | None:
        """The drilled failure of this attempt of `step`, counted; None when it may succeed."""
        left = self.remaining.get(step, 0)
        if left <= 0:
            return None
        self.remaining[step] = left - 1
        code = _FAULT_CODES.get(step, "FAULT")
        message = f"simulated {code.lower().replace('_', ' ')} (drill)"
        return DeviceError(message, device_id=device_id, code=code)


def printed_file_name(job_id: str) -> str:
    """The file a printed job is stored in: `<job_id>.pdf`, percent-quoted if unsafe as a name."""
    if _PLAIN_FILE_NAME.fullmatch(job_id):
        return f"{job_id}.pdf"
    stem = quote(job_id, safe="")
    return f"%2E{stem[1:]}.pdf" if stem.startswith(".") else f"{stem}.pdf"


class SimulatedPrinter:
    """A printer that stores each printed document as `<data_dir>/print/<job_id>.pdf`.

    Printing a job again replaces its file, so the directory holds one PDF per job.
    """

    device_id = SIMULATED_PRINTER_ID

    def __init__(self, data_dir: Path, faults: FaultPlan | None = None) -> None:
        self.directory = data_dir / "print"
        self._faults = faults or FaultPlan()

    async def perform(self, context: StepContext) -> Receipt:
        """Print the job's rendered letter.

        Raises:
            DeviceError: A drilled fault, no rendered letter, or the file cannot be written.
        """
        fault = self._faults.due("print", self.device_id)
        if fault is not None:
            raise fault
        if context.document is None:
            msg = f"job {context.job.job_id} has no rendered letter to print"
            raise DeviceError(msg, device_id=self.device_id, code="NO_DOCUMENT", permanent=True)
        target = self.directory / printed_file_name(context.job.job_id)
        try:
            await asyncio.to_thread(_write_atomically, target, context.document)
        except OSError as exc:
            msg = f"cannot write {target}: {exc.strerror or exc}"
            raise DeviceError(msg, device_id=self.device_id, code="DISK_ERROR") from exc
        return Receipt(self.device_id, reference=target.name)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    os.replace(partial, target)


@dataclass
class _DeviceState:
    step: PostalStep
    device_id: str
    faults: FaultPlan
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)
    duplicates: int = 0
    fault_count: int = 0


_STATE: Final = web.AppKey("device_state", _DeviceState)


async def _perform(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return web.json_response({"error": "the Idempotency-Key header is required"}, status=400)
    try:
        body = await request.json()
        job_id = str(body["job_id"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "the body must be JSON with a job_id"}, status=400)
    if key in state.answers:
        state.duplicates += 1
        return web.json_response(state.answers[key], status=200)
    fault = state.faults.due(state.step, state.device_id)
    if fault is not None:
        state.fault_count += 1
        log.info("device_fault_injected", step=state.step, job_id=job_id)
        return web.json_response(
            {"device_id": state.device_id, "error_code": fault.code, "error_message": str(fault)},
            status=503,
        )
    reference = f"{state.step}-{len(state.jobs) + 1:06d}"
    answer = {"device_id": state.device_id, "reference": reference, "job_id": job_id}
    state.answers[key] = answer
    state.jobs.append(job_id)
    log.info("device_step_performed", step=state.step, job_id=job_id, reference=reference)
    return web.json_response(answer, status=201)


async def _jobs(request: web.Request) -> web.Response:
    return web.json_response(request.app[_STATE].jobs)


async def _stats(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    return web.json_response(
        {"performed": len(state.jobs), "duplicates": state.duplicates, "faults": state.fault_count}
    )


def create_device_app(step: PostalStep, faults: FaultPlan | None = None) -> web.Application:
    """The HTTP application of the franking (`frank`) or dispatch (`dispatch`) simulator.

    It speaks the device API the print connector expects of real devices (defaults:
    franking on `http://127.0.0.1:8101`, dispatch on `http://127.0.0.1:8102`):

    - `POST /frankings` or `POST /dispatches` with a JSON body `{"job_id", ...}` and an
      `Idempotency-Key` header: 201 `{"device_id", "reference", "job_id"}`; a repeated key
      answers 200 with the first answer and performs nothing; without the key, 400. A
      drilled fault answers 503 `{"device_id", "error_code", "error_message"}`.
    - `GET /jobs`: the job ids performed, in order.
    - `GET /stats`: `{"performed", "duplicates", "faults"}`.

    Args:
        step: Which device to simulate.
        faults: Drilled faults; only the entry of `step` is used.
    """
    app = web.Application()
    app[_STATE] = _DeviceState(step, _DEVICE_IDS[step], faults or FaultPlan())
    app.router.add_post(DEVICE_PATHS[step], _perform)
    app.router.add_get("/jobs", _jobs)
    app.router.add_get("/stats", _stats)
    return app


async def start_device_simulator(
    step: PostalStep, host: str, port: int, faults: FaultPlan | None = None
) -> web.AppRunner:
    """Start a simulator in the running event loop and return once it listens.

    Returns:
        The runner; `await runner.cleanup()` stops the simulator.
    """
    runner = web.AppRunner(create_device_app(step, faults), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("device_simulator_listening", step=step, host=host, port=port)
    return runner


def run_device_simulators(
    settings: Settings,
    host: str = "127.0.0.1",
    franking_port: int = DEFAULT_FRANKING_PORT,
    dispatch_port: int = DEFAULT_DISPATCH_PORT,
) -> None:
    """Serve the franking and dispatch simulators until SIGINT or SIGTERM.

    A simulator whose device is configured (`FRANKING_URL`, `DISPATCH_URL`) is not started.
    Both share one fault plan from `JOURNEYHUB_DEVICE_FAULTS`.
    """
    faults = FaultPlan.from_settings(settings)
    wanted: list[tuple[PostalStep, int]] = []
    if settings.franking_url is None:
        wanted.append(("frank", franking_port))
    if settings.dispatch_url is None:
        wanted.append(("dispatch", dispatch_port))

    async def main() -> None:
        runners = [await start_device_simulator(s, host, p, faults) for s, p in wanted]
        try:
            await wait_for_shutdown_signal()
        finally:
            for runner in runners:
                await runner.cleanup()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    """`python -m connectors.devices`: the simulators with settings from the environment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--franking-port", type=int, default=DEFAULT_FRANKING_PORT)
    parser.add_argument("--dispatch-port", type=int, default=DEFAULT_DISPATCH_PORT)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"connectors.devices: error: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    run_device_simulators(settings, args.host, args.franking_port, args.dispatch_port)


if __name__ == "__main__":
    main()
