"""HTTP surface of the stream worker: health, metrics and the bearer-token guard.

Domain views (customers, tracking, budgets) register themselves beside these; the guard
protects all of them except the two that monitoring systems scrape without credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from faust.web import Request, Response, View
from pydantic import SecretStr

from streams.context import WorkerContext

OPEN_PATHS = frozenset({"/healthz", "/metrics"})

AiohttpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_middleware(token: SecretStr | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Require ``Authorization: Bearer <token>`` on every path but health and metrics."""
    expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    @web.middleware
    async def require_token(request: web.Request, handler: AiohttpHandler) -> web.StreamResponse:
        if expected is None or request.path in OPEN_PATHS:
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    return require_token


def register_views(worker: WorkerContext) -> None:
    """Add ``/healthz`` and ``/metrics`` to the worker's web server.

    Health is "ok" only while the worker can answer from its tables: not before its first
    rebalance, nor while partitions move or tables recover from their changelogs.
    """
    app = worker.app

    @app.page("/healthz")
    async def healthz(view: View, request: Request) -> Response:
        if not worker.ready:
            return view.json({"status": "starting"}, status=503)
        if app.rebalancing or app.in_recovery:
            return view.json({"status": "recovering"}, status=503)
        return view.json({"status": "ok"})

    @app.page("/metrics")
    async def metrics(view: View, request: Request) -> Response:
        body, content_type = worker.metrics.render()
        return view.bytes(body, headers={"Content-Type": content_type})
