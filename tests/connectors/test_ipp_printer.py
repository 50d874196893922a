"""Printing over IPP against a real `ippeveprinter` (Debian cups-ipp-utils) started per test.

ippeveprinter insists on DNS-SD; without an Avahi daemon it starts only when it finds a
D-Bus system bus, so the fixture gives it a private message bus of its own.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.device_steps import DeviceError, PrintJob, StepContext
from connectors.ipp_printer import IppPrinter, ipp_status_error, printer_device_id
from connectors.letter_pdf import Letter, render_letter
from streams.broker import free_port
from tests.workertools import stop_process

IPPEVEPRINTER = shutil.which("ippeveprinter") or "/usr/sbin/ippeveprinter"
DBUS_DAEMON = shutil.which("dbus-daemon")
needs_ippeveprinter = pytest.mark.skipif(
    not (Path(IPPEVEPRINTER).exists() and DBUS_DAEMON),
    reason="needs ippeveprinter (cups-ipp-utils) and dbus-daemon",
)


@dataclass
class IppTestPrinter:
    uri: str
    spool: Path

    def spooled(self) -> list[Path]:
        return sorted(self.spool.glob("*.pdf"))


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"ippeveprinter exited with {process.returncode}"
            raise RuntimeError(msg)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    msg = f"ippeveprinter did not listen on port {port}"
    raise RuntimeError(msg)


@pytest.fixture
def ipp_printer(tmp_path: Path) -> Iterator[IppTestPrinter]:
    bus = tmp_path / "bus"
    spool = tmp_path / "spool"
    spool.mkdir()
    assert DBUS_DAEMON is not None
    dbus = subprocess.Popen(
        [DBUS_DAEMON, "--session", "--nofork", f"--address=unix:path={bus}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    log = (tmp_path / "ippeveprinter.log").open("wb")
    try:
        while not bus.exists():
            time.sleep(0.05)
        printer = subprocess.Popen(
            [
                IPPEVEPRINTER,
                *("-p", str(port), "-d", str(spool), "-k", "-r", "off"),
                *("-f", "application/pdf", "-n", "localhost", "TestPrinter"),
            ],
            env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}", "PATH": "/usr/bin:/bin"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(port, printer)
            yield IppTestPrinter(f"ipp://127.0.0.1:{port}/ipp/print", spool)
        finally:
            stop_process(printer, grace=5)
    finally:
        stop_process(dbus, grace=5)
        log.close()


def a_job(job_id: str) -> PrintJob:
    return PrintJob(
        job_id=job_id,
        customer_id="c1",
        template="campaign",
        address_lines=("Frau Erika Probe",),
        street="Weg 1",
        postal_code="01234",
        city="Görlitz",
        country="DE",
        salutation="Sehr geehrte Frau Probe",
        variables={},
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


LETTER = render_letter(
    Letter(
        sender_line="Beispiel GmbH · Postfach 1 · 10115 Berlin",
        address=("Frau Erika Probe", "Weg 1", "01234 Görlitz"),
        letter_date=datetime(2026, 3, 2, tzinfo=UTC).date(),
        subject="Einladung",
        salutation="Sehr geehrte Frau Probe",
        body="wir laden Sie ein.",
    )
)


def spooled_for(printer: IppTestPrinter, job_id: str) -> list[Path]:
    """ippeveprinter names kept files `<printer job id>-<job name>.pdf`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [path for path in printer.spooled() if path.name.endswith(f"-{job_id}.pdf")]
        if found:
            return found
        time.sleep(0.1)
    return []


@needs_ippeveprinter
async def test_a_letter_printed_over_ipp_arrives_in_the_printers_spool(
    ipp_printer: IppTestPrinter,
) -> None:
    printer = IppPrinter(ipp_printer.uri)

    receipt = await printer.perform(StepContext(a_job("job-ipp-1"), 1, LETTER, {}))

    [spooled] = spooled_for(ipp_printer, "job-ipp-1")
    assert spooled.read_bytes() == LETTER
    assert receipt.device_id == ipp_printer.uri
    assert receipt.reference.startswith(f"{ipp_printer.uri}/")


@needs_ippeveprinter
async def test_a_retried_print_of_a_job_the_printer_has_is_not_printed_again(
    ipp_printer: IppTestPrinter,
) -> None:
    printer = IppPrinter(ipp_printer.uri)
    first = await printer.perform(StepContext(a_job("job-ipp-2"), 1, LETTER, {}))
    spooled_for(ipp_printer, "job-ipp-2")

    again = await printer.perform(StepContext(a_job("job-ipp-2"), 2, LETTER, {}))

    assert again.reference == first.reference
    assert len(spooled_for(ipp_printer, "job-ipp-2")) == 1


@needs_ippeveprinter
async def test_a_printer_busy_with_another_job_is_a_retriable_failure(
    ipp_printer: IppTestPrinter,
) -> None:
    printer = IppPrinter(ipp_printer.uri)
    await printer.perform(StepContext(a_job("job-ipp-4"), 1, LETTER, {}))

    with pytest.raises(DeviceError) as raised:
        await printer.perform(StepContext(a_job("job-ipp-5"), 1, LETTER, {}))

    assert (raised.value.code, raised.value.permanent) == ("IPP_0x0507", False)


async def test_an_unreachable_printer_is_a_retriable_failure() -> None:
    uri = f"ipp://127.0.0.1:{free_port()}/ipp/print"

    with pytest.raises(DeviceError) as raised:
        await IppPrinter(uri, timeout=5).perform(StepContext(a_job("job-1"), 1, LETTER, {}))

    assert raised.value.code == "UNREACHABLE"
    assert not raised.value.permanent


def test_ipp_client_errors_are_permanent_and_server_errors_retriable() -> None:
    refused = ipp_status_error(0x040A, "ipp://p/ipp/print")  # document-format-not-supported
    busy = ipp_status_error(0x0507, "ipp://p/ipp/print")  # server-error-busy

    assert (refused.permanent, refused.code) == (True, "IPP_0x040a")
    assert (busy.permanent, busy.code) == (False, "IPP_0x0507")


def test_the_device_id_of_a_printer_hides_its_credentials() -> None:
    uri = "ipps://operator:secret@printer.example:631/ipp/print?x=1"

    assert printer_device_id(uri) == "ipps://printer.example:631/ipp/print"
