"""HTTP views of the customer 360: a profile by id, e-mail or phone, a chip, a campaign.

Every worker owns some partitions of the tables, and every request is answered by the owner
of its key, so any worker gives the same answer. A lookup by e-mail or phone takes two hops:
to the owner of the identity graph (one partition), then to the owner of the profile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import faust
import structlog
from faust.web import Request, Response, View
from yarl import URL

from streams.campaign_agent import CAMPAIGNS_TABLE, campaign_summary
from streams.context import WorkerContext
from streams.identifiers import identity_key
from streams.identity_agent import IDENTITY_KEYS_TABLE
from streams.production import ChipTrack
from streams.profile import Profile
from streams.profile_agent import MERGED_TABLE, PROFILES_TABLE
from streams.tracking_agent import CHIPS_TABLE

log = structlog.get_logger(__name__)

HOPS_HEADER = "Journeyhub-Hops"
"""How often a request was passed on between workers; more than :data:`MAX_HOPS` stops it."""
MAX_HOPS = 8
"""Enough for a lookup (two hops) through a few merges; a loop while partitions move ends.

It also bounds the absorbed ids one worker follows for a request: a cycle of merges, which
only damaged tables can hold, answers 500 instead of recursing without end."""
ANSWERED_BY_HEADER = "Journeyhub-Answered-By"
"""Response header: the URL of the worker whose table gave the answer (routing made visible)."""

LocalAnswer = Callable[[View, Request, str], Awaitable[Response]]


class CustomerApi:
    """Answers ``/customers``, ``/tracking``, ``/campaigns`` here, or asks the key's owner."""

    def __init__(self, worker: WorkerContext) -> None:
        """Serve the tables of ``worker``'s app, reading phone numbers in its default region."""
        self._app = worker.app
        self._region = worker.settings.default_region

    async def customer(
        self, view: View, request: Request, customer_id: str, merges_followed: int = 0
    ) -> Response:
        """``GET /customers/{customer_id}``: the profile; an absorbed id gives the survivor's.

        ``merges_followed`` counts the absorbed ids this worker has followed for the request.
        """
        target = URL.build(path=f"/customers/{customer_id}")

        async def profile(view: View, request: Request, key: str) -> Response:
            return await self._profile(view, request, key, merges_followed)

        return await self._answer(view, request, target, PROFILES_TABLE, customer_id, profile)

    async def search(self, view: View, request: Request) -> Response:
        """``GET /customers?email=…`` or ``?phone=…``: the profile of the person named.

        The e-mail is looked up when both are given; a phone number in any usual spelling,
        national ones read in the default region.
        """
        email, phone = request.query.get("email"), request.query.get("phone")
        if email:
            key = identity_key("email", email)
        elif phone:
            key = identity_key("phone", phone, region=self._region)
        else:
            return view.json({"error": "give ?email=… or ?phone=…"}, status=400)
        if key is None:
            name = "email" if email else "phone"
            return view.json({"error": f"{name}: not a valid {name}"}, status=400)
        return await self._answer(
            view, request, request.rel_url, IDENTITY_KEYS_TABLE, key, self._identity
        )

    async def tracking(self, view: View, request: Request, chip_id: str) -> Response:
        """``GET /tracking/{chip_id}``: the chip's production steps in time order."""
        target = URL.build(path=f"/tracking/{chip_id}")
        return await self._answer(view, request, target, CHIPS_TABLE, chip_id, self._track)

    async def campaign(self, view: View, request: Request, campaign_id: str) -> Response:
        """``GET /campaigns/{campaign_id}``: the campaign summary, summed over its partitions."""
        target = URL.build(path=f"/campaigns/{campaign_id}")
        return await self._answer(
            view, request, target, CAMPAIGNS_TABLE, campaign_id, self._campaign
        )

    async def _campaign(self, view: View, request: Request, campaign_id: str) -> Response:
        parts = self._table(CAMPAIGNS_TABLE).get(campaign_id)
        if not parts:
            return _not_found(view, "campaign", campaign_id)
        return view.json(campaign_summary(parts, self._app.conf.topic_partitions))

    async def _profile(
        self, view: View, request: Request, customer_id: str, merges_followed: int
    ) -> Response:
        stored = self._table(PROFILES_TABLE).get(customer_id)
        if stored is not None:
            return view.json(Profile.from_dict(stored).to_api())
        survivor_id = self._table(MERGED_TABLE).get(customer_id)
        if survivor_id is None:
            return _not_found(view, "customer", customer_id)
        if merges_followed >= MAX_HOPS:
            log.error("merge_chain_endless", customer_id=customer_id, survivor_id=survivor_id)
            error = f"the merges of customer {customer_id} lead to no profile"
            return view.json({"error": error}, status=500)
        return await self.customer(view, request, survivor_id, merges_followed + 1)

    async def _identity(self, view: View, request: Request, key: str) -> Response:
        customer_id = self._table(IDENTITY_KEYS_TABLE).get(key)
        if customer_id is None:
            kind = key.partition(":")[0]
            return view.json({"error": f"no customer with this {kind}"}, status=404)
        return await self.customer(view, request, customer_id)

    async def _track(self, view: View, request: Request, chip_id: str) -> Response:
        stored = self._table(CHIPS_TABLE).get(chip_id)
        if stored is None:
            return _not_found(view, "chip", chip_id)
        return view.json(ChipTrack.from_dict(stored).to_api())

    async def _answer(
        self,
        view: View,
        request: Request,
        target: URL,
        table: str,
        key: str,
        local: LocalAnswer,
    ) -> Response:
        """Answer from this worker's table when it owns ``key``, else ask the owner ``target``.

        Args:
            view: The view answering.
            request: The request being answered.
            target: Path and query that ask the owner of ``key`` for the answer.
            table: The table that holds ``key``.
            key: The key to answer for.
            local: How this worker answers when it owns ``key``.

        Returns:
            The answer, or 503 while no worker can be asked (partitions are moving).
        """
        app = self._app
        if app.rebalancing or app.in_recovery:
            return _unavailable(view, "the worker is taking over partitions; retry shortly")
        try:
            owner = app.router.key_store(table, key)
        except KeyError:
            return _unavailable(view, "no worker owns this key yet; retry shortly")
        if _same_worker(owner, app.conf.canonical_url):
            response = await local(view, request, key)
            response.headers.setdefault(ANSWERED_BY_HEADER, str(app.conf.canonical_url))
            return response
        return await self._ask(view, request, owner.join(target))

    async def _ask(self, view: View, request: Request, url: URL) -> Response:
        """Pass the request on to the worker at ``url``, and its answer back."""
        given = request.headers.get(HOPS_HEADER, "0")
        hops = int(given) + 1 if given.isdigit() else MAX_HOPS + 1
        if hops > MAX_HOPS:
            return _unavailable(view, "the owner of this key is moving; retry shortly")
        headers = {HOPS_HEADER: str(hops)}
        if "Authorization" in request.headers:
            headers["Authorization"] = request.headers["Authorization"]
        try:
            async with self._app.http_client.get(url, headers=headers) as response:
                body = await response.read()
                answered_by = response.headers.get(ANSWERED_BY_HEADER, str(url.origin()))
                return view.bytes(
                    body,
                    content_type=response.content_type,
                    status=response.status,
                    headers={ANSWERED_BY_HEADER: answered_by},
                )
        except aiohttp.ClientError:
            return _unavailable(view, "the worker that owns this key does not answer; retry")

    def _table(self, name: str) -> Any:
        """The table ``name``, looked up when asked: its domain registers it, not this one."""
        return self._app.tables[name]


def _same_worker(url: URL, canonical: URL) -> bool:
    return (url.host, url.port) == (canonical.host, canonical.port)


def _not_found(view: View, kind: str, key: str) -> Response:
    return view.json({"error": f"unknown {kind} {key}"}, status=404)


def _unavailable(view: View, reason: str) -> Response:
    return view.json({"error": reason}, status=503, headers={"Retry-After": "1"})


def register(worker: WorkerContext) -> None:
    """Add ``/customers``, ``/customers/{customer_id}``, ``/tracking/{chip_id}``, ``/campaigns``."""
    app: faust.App = worker.app
    api = CustomerApi(worker)

    @app.page("/customers")
    async def customers(view: View, request: Request) -> Response:
        return await api.search(view, request)

    @app.page("/customers/{customer_id}")
    async def customer(view: View, request: Request, customer_id: str) -> Response:
        return await api.customer(view, request, customer_id)

    @app.page("/tracking/{chip_id}")
    async def tracking(view: View, request: Request, chip_id: str) -> Response:
        return await api.tracking(view, request, chip_id)

    @app.page("/campaigns/{campaign_id}")
    async def campaign(view: View, request: Request, campaign_id: str) -> Response:
        return await api.campaign(view, request, campaign_id)
