"""HTTP views of campaign budgets: one campaign from the worker that owns it, or all of them.

A campaign's ledger lives on the one worker that owns its partition: ``/budgets/{id}`` is
forwarded there, and ``/budgets`` asks every worker for the campaigns it owns and merges.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import aiohttp
import structlog
from faust.types import TableT
from faust.web import Request, Response, View

from streams.budget import BudgetSummary
from streams.budget_records import BudgetError
from streams.context import WorkerContext

log = structlog.get_logger(__name__)

LOCAL_SCOPE = "local"
"""``GET /budgets?scope=local``: only this worker's campaigns (how workers ask each other)."""
PEER_TIMEOUT = aiohttp.ClientTimeout(total=5)


class BudgetBooks(Protocol):
    """What the views read: the ledger table (for routing) and summaries from it."""

    @property
    def ledgers(self) -> TableT:
        """The table of campaign ledgers, keyed by campaign id."""

    def summary(self, campaign_id: str) -> BudgetSummary | None:
        """Return a campaign's budget position, None while it has no plan."""

    def local_summaries(self) -> list[BudgetSummary]:
        """Return the budget position of every planned campaign this worker owns."""


class PeerError(BudgetError):
    """Another worker did not answer for its campaigns; asking again usually helps."""


def register_budget_views(context: WorkerContext, books: BudgetBooks) -> None:
    """Add ``GET /budgets`` and ``GET /budgets/{campaign_id}`` to the worker's web server."""
    app = context.app

    async def campaign_budget(view: View, request: Request, *_: Any, **match: Any) -> Response:
        """Answer the summary, or 404 while the campaign is unknown or has no plan."""
        campaign_id = str(match["campaign_id"])
        summary = books.summary(campaign_id)
        if summary is None:
            return view.json({"error": f"no budget plan for campaign {campaign_id!r}"}, status=404)
        return view.json(summary.to_api())

    @app.page("/budgets/{campaign_id}")
    class CampaignBudget(View):
        """One campaign's budget position (CONTRACT §4), answered by the worker owning it."""

        get = app.table_route(table=books.ledgers, match_info="campaign_id")(campaign_budget)

    @app.page("/budgets")
    class Budgets(View):
        """Every campaign with a plan, merged from all workers, ordered by campaign id."""

        async def get(self, request: Request) -> Response:
            """Answer a JSON list of summaries; 503 when another worker cannot be asked."""
            found = {s.campaign_id: s.to_api() for s in books.local_summaries()}
            if request.query.get("scope") != LOCAL_SCOPE:
                token = request.headers.get("Authorization")
                asks = (_ask_peer(app.http_client, url, token) for url in self._peers())
                try:
                    for answer in await asyncio.gather(*asks):
                        found.update((body["campaign_id"], body) for body in answer)
                except PeerError as error:
                    return self.json({"error": str(error)}, status=503)
            return self.json([found[campaign_id] for campaign_id in sorted(found)])

        def _peers(self) -> list[str]:
            own = str(app.conf.canonical_url)
            return [url for url in app.router.table_metadata(books.ledgers.name) if url != own]


async def _ask_peer(
    client: aiohttp.ClientSession, url: str, token: str | None
) -> list[dict[str, Any]]:
    """Fetch the campaigns another worker owns, passing the caller's bearer token on."""
    headers = {"Authorization": token} if token else {}
    try:
        async with client.get(
            f"{url}/budgets", params={"scope": LOCAL_SCOPE}, headers=headers, timeout=PEER_TIMEOUT
        ) as response:
            response.raise_for_status()
            answer: list[dict[str, Any]] = await response.json()
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("budget_peer_unreachable", url=url, error_class=type(error).__name__)
        msg = f"worker {url} did not list its budgets; try again"
        raise PeerError(msg) from error
    return answer
