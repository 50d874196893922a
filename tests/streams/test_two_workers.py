"""Two workers sharing the partitions answer every customer-360 lookup alike."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from streams.broker import free_port
from streams.customer_api import ANSWERED_BY_HEADER
from streams.identity import derive_customer_id
from streams.settings import STATE_STORES
from tests.streams.test_customer360_pipeline import (
    PROCESSED_WITHIN,
    Person,
    by_phone,
    checkout,
    eventually,
    order_placed,
    produce,
    reading,
)
from tests.workertools import running_worker, wait_for

pytestmark = pytest.mark.slow

PEOPLE = 10
"""Enough people that both workers own some of them (all on one: 2 ** -10)."""

Answer = tuple[int, Any, str | None]


def fetch(url: str) -> Answer:
    """GET ``url``: status, JSON body and the worker whose table answered."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response), response.headers[ANSWERED_BY_HEADER]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers[ANSWERED_BY_HEADER]
    except OSError:
        return 0, None, None


def produced_in_full(profile: dict[str, Any]) -> bool:
    return profile["orders"]["count"] == 1 and profile["production"] != []


def worker_env(test_env: dict[str, str], data_dir: Path, store: str) -> dict[str, str]:
    return {
        **test_env,
        "JOURNEYHUB_DATA_DIR": str(data_dir),
        "JOURNEYHUB_WEB_PORT": str(free_port()),
        "JOURNEYHUB_STATE": store,
    }


# Both stores: in memory, and RocksDB (the default), whose first worker writes its persisted
# offsets and closes the databases of the partitions the second worker takes over.
@pytest.mark.parametrize("store", STATE_STORES)
def test_two_workers_answer_alike_from_the_worker_that_owns_the_key(
    test_env: dict[str, str], tmp_path: Path, store: str
) -> None:
    people = [Person() for _ in range(PEOPLE)]
    ids = {person.run: derive_customer_id(f"shop_customer:{person.account}") for person in people}
    paths = [
        path
        for person in people
        for path in (
            f"/customers/{ids[person.run]}",
            f"/customers?email={quote(person.email)}",
            by_phone(person.phone_international),
            f"/tracking/{person.chip}",
        )
    ]
    with running_worker(worker_env(test_env, tmp_path / "one", store)) as one:
        produce(test_env, "shop.events", *(checkout(person, "checkout", 0) for person in people))
        produce(test_env, "shop.events", *(order_placed(person, "order", 5) for person in people))
        readings = (reading(person, "r1", "cutting", "completed", 60) for person in people)
        produce(test_env, "rfid.production", *readings)
        for person in people:
            eventually(one, f"/customers/{ids[person.run]}", produced_in_full)

        second = worker_env(test_env, tmp_path / "two", store)
        with running_worker(second, "worker-two.log") as two:
            answers: dict[str, tuple[Answer, Answer]] = {}

            def alike(path: str) -> bool:
                answers[path] = (fetch(one + path), fetch(two + path))
                first, second = answers[path]
                return first[0] == 200 and first == second

            for path in paths:
                wait_for(lambda path=path: alike(path), PROCESSED_WITHIN, lambda: str(answers))

    for person in people:
        profile = answers[f"/customers/{ids[person.run]}"][0][1]
        assert profile["customer_id"] == ids[person.run]
        assert profile["orders"]["count"] == 1
        assert profile["production"][0]["chip_id"] == person.chip
        assert answers[by_phone(person.phone_international)][0][1] == profile
        assert answers[f"/tracking/{person.chip}"][0][1]["customer_id"] == ids[person.run]
    owners = {answered_by for first, _ in answers.values() if (answered_by := first[2])}
    assert owners == {one, two}, "both workers own some of the people"
