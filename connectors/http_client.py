"""JSON-over-HTTP calls to a target, each answer turned into success or a delivery error.

The one place that decides which HTTP outcomes are worth retrying (timeouts, connection
errors, 408, 429, 5xx) and which are final (other 4xx), and that reads `Retry-After`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

from connectors.errors import (
    ConnectorError,
    DeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.retry import parse_retry_after

_RETRIABLE_STATUSES: Final = frozenset({408, 429})
_DETAIL_CHARS: Final = 200


@dataclass(frozen=True)
class HttpCall:
    """One request to a target.

    Attributes:
        method: HTTP method.
        path: Path below the target's base URL, starting with `/`.
        idempotency_key: Sent as `Idempotency-Key`, so a repeated call has no second effect.
        body: JSON body, if any.
        done_statuses: Non-2xx statuses that still mean done (e.g. 404 for a DELETE).
    """

    method: str
    path: str
    idempotency_key: str
    body: dict[str, Any] | None = None
    done_statuses: frozenset[int] = frozenset()


def delivery_error(
    call: HttpCall,
    status: int,
    reason: str,
    retry_after: float | None = None,
    detail: str = "",
) -> DeliveryError | None:
    """Judge the answer to a call.

    Args:
        call: The call that was answered.
        status: The HTTP status of the answer.
        reason: The reason phrase of the answer.
        retry_after: Seconds from the answer's `Retry-After`, if any.
        detail: The start of the answer's body, to explain a refusal.

    Returns:
        None when the call is done; a `RetriableDeliveryError` for 408, 429 and 5xx; a
        `PermanentDeliveryError` for any other status.
    """
    if 200 <= status < 300 or status in call.done_statuses:
        return None
    summary = f"{call.method} {call.path} answered {status} {reason}".rstrip()
    if detail:
        summary = f"{summary}: {detail}"
    if status in _RETRIABLE_STATUSES or status >= 500:
        return RetriableDeliveryError(summary, status=status, retry_after=retry_after)
    return PermanentDeliveryError(summary, status=status)


class HttpTarget:
    """An HTTP JSON API reached at one base URL, with optional bearer authentication.

    Use as an async context manager, or call `open()` and `close()`.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """Open the connection pool."""
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, call: HttpCall) -> None:
        """Send a call and return once the target confirmed it.

        Raises:
            RetriableDeliveryError: Timeout, connection failure, 408, 429 or 5xx.
            PermanentDeliveryError: Any other non-2xx answer not in `call.done_statuses`.
            ConnectorError: The target was not opened.
        """
        if self._session is None:
            msg = f"HTTP target {self.base_url} is not open; call open() first"
            raise ConnectorError(msg)
        try:
            async with self._session.request(
                call.method,
                self.base_url + call.path,
                json=call.body,
                headers={"Idempotency-Key": call.idempotency_key},
            ) as response:
                if 200 <= response.status < 300:
                    return
                text = await response.text(errors="replace")
                error = delivery_error(
                    call,
                    response.status,
                    response.reason or "",
                    parse_retry_after(response.headers.get("Retry-After")),
                    " ".join(text.split())[:_DETAIL_CHARS],
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            msg = f"{call.method} {call.path} to {self.base_url} failed: {reason}"
            raise RetriableDeliveryError(msg) from exc
        if error is not None:
            raise error
