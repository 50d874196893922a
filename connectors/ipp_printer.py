"""The print step on a real printer: an IPP Print-Job to `PRINTER_URI` with the `pyipp` client.

Each job is printed under its job id as `job-name`; a retried print first asks the printer
(Get-Jobs) whether it already holds that job, so a lost answer does not print it twice.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from pyipp import IPP
from pyipp.enums import IppOperation
from pyipp.exceptions import IPPConnectionError, IPPError, IPPParseError, IPPResponseError

from connectors.device_steps import DeviceError, Receipt, StepContext

DOCUMENT_FORMAT: Final = "application/pdf"
USER_NAME: Final = "journeyhub"
_CLIENT_ERRORS: Final = range(0x0400, 0x0500)
_SERVER_ERRORS: Final = range(0x0500, 0x0600)


def printer_device_id(uri: str) -> str:
    """The device id of a printer: its URI without credentials."""
    parts = urlsplit(uri)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def ipp_status_error(status: int, device_id: str) -> DeviceError:
    """Judge an IPP status code that is not success.

    Client errors (0x04xx, e.g. document-format-not-supported) are permanent; server errors
    (0x05xx, e.g. server-error-busy) and anything else are worth retrying.
    """
    code = f"IPP_{status:#06x}"
    if status in _CLIENT_ERRORS:
        msg = f"printer {device_id} refused the job with IPP status {status:#06x}"
        return DeviceError(msg, device_id=device_id, code=code, permanent=True)
    msg = f"printer {device_id} could not take the job now (IPP status {status:#06x})"
    return DeviceError(msg, device_id=device_id, code=code)


def _status_of(error: IPPError) -> int | None:
    details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    status = details.get("status-code")
    return status if isinstance(status, int) else None


class IppPrinter:
    """A printer reached over IPP (`ipp://` or `ipps://`), credentials taken from the URI.

    Args:
        uri: The printer URI, e.g. `ipp://printer.local:631/ipp/print`.
        timeout: Seconds one IPP request may take.
    """

    def __init__(self, uri: str, timeout: int = 60) -> None:
        parts = urlsplit(uri)
        self.device_id = printer_device_id(uri)
        self._uri = self.device_id
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    async def perform(self, context: StepContext) -> Receipt:
        """Print the job's rendered letter, unless the printer already has the job.

        Returns:
            A receipt whose reference is the printer's job URI.

        Raises:
            DeviceError: The printer is unreachable, busy, or refused the document.
        """
        if context.document is None:
            msg = f"job {context.job.job_id} has no rendered letter to print"
            raise DeviceError(msg, device_id=self.device_id, code="NO_DOCUMENT", permanent=True)
        job_name = context.job.job_id
        if context.attempt > 1:
            existing = await self.find_job(job_name)
            if existing is not None:
                return Receipt(self.device_id, reference=existing)
        response = await self._execute(
            IppOperation.PRINT_JOB,
            {
                "operation-attributes-tag": {
                    "requesting-user-name": USER_NAME,
                    "job-name": job_name,
                    "document-format": DOCUMENT_FORMAT,
                },
                "data": context.document,
            },
        )
        jobs = response.get("jobs") or [{}]
        return Receipt(self.device_id, reference=str(jobs[0].get("job-uri", "")))

    async def find_job(self, job_name: str) -> str | None:
        """The URI of a job with this name that the printer holds (any state), if any.

        Raises:
            DeviceError: The printer could not be asked.
        """
        response = await self._execute(
            IppOperation.GET_JOBS,
            {
                "operation-attributes-tag": {
                    "requesting-user-name": USER_NAME,
                    "which-jobs": "all",
                    "requested-attributes": ["job-uri", "job-name"],
                }
            },
        )
        for job in response.get("jobs") or []:
            if job.get("job-name") == job_name:
                return str(job.get("job-uri", ""))
        return None

    async def _execute(self, operation: IppOperation, message: dict[str, Any]) -> dict[str, Any]:
        try:
            async with IPP(
                self._uri,
                username=self._username,
                password=self._password,
                request_timeout=self._timeout,
            ) as ipp:
                return await ipp.execute(operation, message)
        except IPPConnectionError as exc:
            msg = f"printer {self.device_id} is unreachable: {exc}"
            raise DeviceError(msg, device_id=self.device_id, code="UNREACHABLE") from exc
        except IPPResponseError as exc:
            details = exc.args[1] if len(exc.args) > 1 else {}
            http = details.get("status-code") if isinstance(details, dict) else None
            msg = f"printer {self.device_id} answered HTTP {http}"
            permanent = isinstance(http, int) and 400 <= http < 500 and http not in (408, 429)
            code = f"HTTP_{http}"
            raise DeviceError(
                msg, device_id=self.device_id, code=code, permanent=permanent
            ) from exc
        except IPPParseError as exc:
            msg = f"printer {self.device_id} sent an answer that is not IPP"
            raise DeviceError(msg, device_id=self.device_id, code="BAD_ANSWER") from exc
        except IPPError as exc:
            status = _status_of(exc)
            if status is None:
                msg = f"printer {self.device_id} failed: {exc}"
                raise DeviceError(msg, device_id=self.device_id, code="IPP_ERROR") from exc
            raise ipp_status_error(status, self.device_id) from exc
