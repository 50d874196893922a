"""The sandbox CRM: a small local implementation of the generic CRM REST API.

It lets `journeyhub up`, demos and tests run the CRM connector without a real CRM, and it can
misbehave on purpose (failures, latency, rate limits) to drill the connector's retries.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from connectors.errors import ConnectorConfigError
from connectors.sandbox_store import SandboxStore
from connectors.shutdown import wait_for_shutdown_signal

log = structlog.get_logger(__name__)

DEFAULT_PORT: Final = 8099
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WRITE_METHODS: Final = frozenset({"PUT", "POST", "DELETE"})


@dataclass(frozen=True)
class SandboxOptions:
    """How the sandbox CRM listens and misbehaves.

    Attributes:
        host: Interface to listen on.
        port: TCP port to listen on (0 picks a free one).
        fail_rate: Share of write requests answered 503, drawn from a random generator seeded
            with `seed`, so a run is reproducible.
        latency_ms: Delay added to every write request.
        rate_limit: At most this many write requests a second; more are answered 429 with
            `Retry-After: 1`. None means unlimited.
        token: When set, every request needs `Authorization: Bearer <token>`.
        seed: Seed of the failure generator.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    fail_rate: float = 0.0
    latency_ms: int = 0
    rate_limit: int | None = None
    token: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_rate <= 1.0:
            msg = f"fail rate must be between 0 and 1, got {self.fail_rate}"
            raise ConnectorConfigError(msg)
        if self.latency_ms < 0:
            msg = f"latency must be 0 ms or more, got {self.latency_ms}"
            raise ConnectorConfigError(msg)
        if self.rate_limit is not None and self.rate_limit < 1:
            msg = f"rate limit must be at least 1 request a second, got {self.rate_limit}"
            raise ConnectorConfigError(msg)


class _RateLimiter:
    """Counts requests per second (fixed one-second windows) and refuses those above the limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._second = -1
        self._count = 0

    def allow(self) -> bool:
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._count = second, 0
        self._count += 1
        return self._count <= self._limit


STORE: Final = web.AppKey("store", SandboxStore)


def _error(
    status: type[web.HTTPException], message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message}, status=status.status_code, headers=headers)


def _faults_middleware(options: SandboxOptions) -> Middleware:
    """Build the middleware that counts requests and injects auth checks and faults."""
    generator = random.Random(options.seed)  # noqa: S311 - simulated faults, not security
    limiter = _RateLimiter(options.rate_limit) if options.rate_limit else None
    expected = f"Bearer {options.token}".encode() if options.token else None

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        store = request.app[STORE]
        if request.path != "/stats":
            store.count("requests")
        given = request.headers.get("Authorization", "").encode()
        if expected is not None and not hmac.compare_digest(given, expected):
            store.count("rejected_requests")
            return _error(web.HTTPUnauthorized, "missing or wrong bearer token")
        if request.method in _WRITE_METHODS:
            if options.latency_ms:
                await asyncio.sleep(options.latency_ms / 1000)
            if limiter is not None and not limiter.allow():
                return _error(web.HTTPTooManyRequests, "rate limit exceeded", {"Retry-After": "1"})
            if generator.random() < options.fail_rate:
                return _error(web.HTTPServiceUnavailable, "simulated outage, try again")
        return await handler(request)

    return faults


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _reject(request: web.Request, message: str) -> web.Response:
    request.app[STORE].count("rejected_requests")
    return _error(web.HTTPBadRequest, message)


async def put_contact(request: web.Request) -> web.Response:
    """`PUT /contacts/{external_id}`: create or replace a contact."""
    external_id = request.match_info["external_id"]
    body = await _json_object(request)
    if body is None:
        return _reject(request, "the body must be a JSON object")
    email = body.get("email")
    if email not in (None, "") and not (isinstance(email, str) and _EMAIL.match(email)):
        return _reject(request, "field 'email' is not an e-mail address")
    created, unchanged = request.app[STORE].upsert_contact(external_id, body)
    if unchanged:
        request.app[STORE].count("duplicate_requests")
    contact = {**body, "external_id": external_id}
    return web.json_response(contact, status=201 if created else 200)


async def delete_contact(request: web.Request) -> web.Response:
    """`DELETE /contacts/{external_id}`: 204 when deleted, 404 when there was none."""
    if request.app[STORE].delete_contact(request.match_info["external_id"]):
        return web.Response(status=204)
    return _error(web.HTTPNotFound, "no such contact")


async def get_contact(request: web.Request) -> web.Response:
    """`GET /contacts/{external_id}`: the contact, or 404."""
    contact = request.app[STORE].get_contact(request.match_info["external_id"])
    if contact is None:
        return _error(web.HTTPNotFound, "no such contact")
    return web.json_response(contact)


async def list_contacts(request: web.Request) -> web.Response:
    """`GET /contacts[?email=…]`: every contact, or those with that e-mail."""
    return web.json_response(request.app[STORE].find_contacts(request.query.get("email")))


async def post_lead(request: web.Request) -> web.Response:
    """`POST /leads`: create a lead once per `Idempotency-Key`."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return _reject(request, "the Idempotency-Key header is required")
    body = await _json_object(request)
    if body is None:
        return _reject(request, "the body must be a JSON object")
    score = body.get("score")
    if not body.get("customer_id") or isinstance(score, bool) or not isinstance(score, int | float):
        return _reject(request, "a lead needs 'customer_id' and a numeric 'score'")
    lead, created = request.app[STORE].add_lead(key, body)
    if not created:
        request.app[STORE].count("duplicate_requests")
    return web.json_response(lead, status=201 if created else 200)


async def list_leads(request: web.Request) -> web.Response:
    """`GET /leads`: every lead in the order it was created."""
    return web.json_response(request.app[STORE].list_leads())


async def get_stats(request: web.Request) -> web.Response:
    """`GET /stats`: contacts, leads and request counters."""
    return web.json_response(request.app[STORE].stats())


def create_sandbox_app(data_dir: Path, options: SandboxOptions | None = None) -> web.Application:
    """Build the sandbox CRM application, storing its data in `<data_dir>/sandbox-crm.sqlite3`.

    It implements the generic CRM REST API documented on `connectors.crm.CrmSink`, plus
    `GET /stats`. Faults (latency, rate limit, fail rate) apply to write requests only, so
    reads always show the outcome. `requests` counts every request except `GET /stats`;
    `duplicate_requests` counts a contact PUT whose body equals the stored one and a lead POST
    with a known idempotency key; `rejected_requests` counts answers 400 and 401.

    Args:
        data_dir: Directory of the SQLite database (created when missing).
        options: Listening and fault options; the defaults misbehave in no way.

    Returns:
        The application; its store is closed when the application is cleaned up.
    """
    options = options or SandboxOptions()
    app = web.Application(middlewares=[_faults_middleware(options)])
    app[STORE] = SandboxStore(data_dir)

    async def close_store(app: web.Application) -> None:
        app[STORE].close()

    app.on_cleanup.append(close_store)
    app.router.add_put("/contacts/{external_id}", put_contact)
    app.router.add_delete("/contacts/{external_id}", delete_contact)
    app.router.add_get("/contacts/{external_id}", get_contact)
    app.router.add_get("/contacts", list_contacts)
    app.router.add_post("/leads", post_lead)
    app.router.add_get("/leads", list_leads)
    app.router.add_get("/stats", get_stats)
    return app


async def start_sandbox_crm(data_dir: Path, options: SandboxOptions | None = None) -> web.AppRunner:
    """Start the sandbox CRM in the running event loop and return once it listens.

    Returns:
        The runner; `await runner.cleanup()` stops the server and closes the database.
    """
    options = options or SandboxOptions()
    runner = web.AppRunner(create_sandbox_app(data_dir, options), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, options.host, options.port).start()
    log.info("sandbox_crm_listening", host=options.host, port=options.port)
    return runner


async def serve_sandbox_crm(data_dir: Path, options: SandboxOptions | None = None) -> None:
    """Serve the sandbox CRM until the calling task is cancelled."""
    runner = await start_sandbox_crm(data_dir, options)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run_sandbox_crm(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    data_dir: Path = Path(".journeyhub"),
    fail_rate: float = 0.0,
    latency_ms: int = 0,
    rate_limit: int | None = None,
    token: str | None = None,
) -> None:
    """Serve the sandbox CRM in the foreground until SIGINT or SIGTERM (`journeyhub sandbox-crm`).

    Raises:
        ConnectorConfigError: An option is out of range.
    """
    options = SandboxOptions(
        host=host,
        port=port,
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        token=token,
    )

    async def main() -> None:
        runner = await start_sandbox_crm(data_dir, options)
        try:
            await wait_for_shutdown_signal()
        finally:
            await runner.cleanup()

    asyncio.run(main())
