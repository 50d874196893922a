"""GDPR requests in a real worker: access hands out the profile, erasure leaves nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.streams.test_customer360_pipeline import (
    Person,
    at,
    checkout,
    cms,
    eventually,
    produce,
    tail,
)
from tests.streams.test_journey_pipeline import by_email
from tests.workertools import http_get, running_worker, wait_for

pytestmark = pytest.mark.slow
ANSWERED_WITHIN = 60.0


def privacy_request(person: Person, kind: str) -> dict[str, Any]:
    return {
        "request_id": f"{kind}-{person.run}",
        "customer_id": None,
        "email": person.email.upper(),
        "type": kind,
        "requested_at": at(100),
    }


def answer(env: dict[str, str], request_id: str) -> dict[str, Any] | None:
    answers = [m["value"] for m in tail(env, "privacy.responses") if m["key"] == request_id]
    return answers[-1] if answers else None


def test_access_hands_out_the_profile_and_erasure_leaves_nothing_to_find(
    test_env: dict[str, str],
) -> None:
    erika = Person()
    with running_worker(test_env) as base:
        produce(test_env, "shop.events", checkout(erika, "checkout", 0))
        produce(test_env, "cms.events", cms(erika, "download", "download", 5))
        profile = eventually(base, by_email(erika), lambda body: body["lead_score"] == 10)
        customer_id = profile["customer_id"]

        produce(test_env, "privacy.requests", privacy_request(erika, "access"))
        access: list[dict[str, Any] | None] = [None]

        def answered(request_id: str) -> bool:
            access[0] = answer(test_env, request_id)
            return access[0] is not None

        wait_for(lambda: answered(f"access-{erika.run}"), ANSWERED_WITHIN)
        given = access[0]
        assert given is not None
        assert (given["status"], given["customer_id"]) == ("completed", customer_id)
        (stored,) = json.loads(given["data"])["profiles"]
        assert stored["profile"]["email"] == erika.email
        assert stored["stored"]["lead_score"] == 10

        produce(test_env, "privacy.requests", privacy_request(erika, "erasure"))
        wait_for(lambda: answered(f"erasure-{erika.run}"), ANSWERED_WITHIN)
        erased = access[0]
        assert erased is not None
        assert (erased["status"], erased["customer_id"]) == ("completed", customer_id)
        assert http_get(base + by_email(erika))[0] == 404
        assert http_get(base + f"/customers/{customer_id}")[0] == 404
        assert http_get(base + f"/customers?phone={quote(erika.e164)}")[0] == 404

    published = [m for m in tail(test_env, "customer360.profiles") if m["key"] == customer_id]
    assert published[-1]["value"] is None, "the erased person's contact must be deleted"
