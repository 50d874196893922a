"""Customer 360 in a real worker on the embedded broker: events in, profiles out and on HTTP."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from schemas.codec import make_codec
from schemas.jsonconv import json_to_record
from streams.broker import EmbeddedBroker, free_port
from streams.bundles import BUNDLE, decode_bundle
from streams.errors import InvalidRecordError
from streams.forwarded import COMMAND_HEADER, ForwardedEvent
from streams.identity import derive_customer_id
from streams.identity_agent import IDENTITY_EVENTS, PROFILE_EVENTS
from streams.kafka import is_embedded_broker
from streams.profile_agent import MERGED_TABLE, PROFILES_TABLE
from streams.settings import STATE_STORES, Settings
from tests.clitools import run_cli
from tests.conftest import process_env
from tests.workertools import http_get, running_worker, wait_for

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROCESSED_WITHIN = 60.0


class Person:
    """The ids of one test person: unique per test, as the broker is shared by the session."""

    def __init__(self) -> None:
        run = uuid.uuid4().hex[:8]
        self.run = run
        self.session = f"s-{run}"
        self.account = f"shop-{run}"
        self.email = f"erika.{run}@example.de"
        self.handle = f"erika_{run}"
        self.order = f"O-{run}"
        self.chip = f"CH-{run}"
        digits = f"{int(run, 16) % 10_000_000:07d}"
        self.phone = f"0171 {digits}"
        self.phone_international = f"+49 171 {digits[:3]} {digits[3:]}"
        self.e164 = f"+49171{digits}"


def at(minutes: float) -> str:
    moment = T0 + timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def master_data(person: Person) -> dict[str, Any]:
    return {
        "first_name": "Erika",
        "last_name": "Musterfrau",
        "gender": "female",
        "title": "Dr.",
        "email": person.email,
        "phone": person.phone,
        "street": "Hauptstraße 1",
        "postal_code": "01067",
        "city": "Dresden",
        "country": "DE",
        "social_handles": [f"@{person.handle}"],
    }


def shop(person: Person, event_id: str, event_type: str, minutes: float, **fields: Any) -> dict:
    return {
        "event_id": f"{event_id}-{person.run}",
        "event_type": event_type,
        "occurred_at": at(minutes),
        "session_id": person.session,
        **fields,
    }


def product_view(person: Person, event_id: str, minutes: float) -> dict[str, Any]:
    product = {
        "sku": "RUN-1",
        "name": "Trail Runner",
        "category": "running_shoes",
        "price": "129.00",
        "currency": "EUR",
    }
    return shop(person, event_id, "product_view", minutes, product=product)


def checkout(person: Person, event_id: str, minutes: float) -> dict[str, Any]:
    return shop(
        person,
        event_id,
        "checkout",
        minutes,
        customer_id=person.account,
        customer=master_data(person),
    )


def order_placed(person: Person, event_id: str, minutes: float) -> dict[str, Any]:
    item = {
        "sku": "RUN-1",
        "name": "Trail Runner",
        "category": "running_shoes",
        "quantity": 1,
        "unit_price": "129.00",
    }
    placed = {"order_id": person.order, "items": [item], "total": "129.00", "currency": "EUR"}
    return shop(person, event_id, "order_placed", minutes, customer_id=person.account, order=placed)


def cms(person: Person, event_id: str, event_type: str, minutes: float, **fields: Any) -> dict:
    return {
        "event_id": f"{event_id}-{person.run}",
        "event_type": event_type,
        "occurred_at": at(minutes),
        "email": person.email,
        "keywords": ["Marathon"],
        **fields,
    }


def social_post(person: Person, event_id: str, text: str, minutes: float, handle: str) -> dict:
    return {
        "event_id": f"{event_id}-{person.run}",
        "platform": "instagram",
        "post_id": f"{event_id}-{person.run}",
        "author_handle": handle,
        "text": text,
        "hashtags": ["Laufschuhe"],
        "language": "de",
        "posted_at": at(minutes),
    }


def reading(person: Person, event_id: str, step: str, status: str, minutes: float) -> dict:
    return {
        "event_id": f"{event_id}-{person.run}",
        "chip_id": person.chip,
        "order_id": person.order,
        "sku": "RUN-1",
        "station_id": f"station-{step}",
        "step": step,
        "status": status,
        "occurred_at": at(minutes),
    }


def produce(env: dict[str, str], topic: str, *records: dict[str, Any]) -> None:
    lines = "".join(json.dumps(record) + "\n" for record in records)
    result = run_cli(env, "produce", topic, "-", stdin=lines)
    assert result.code == 0, result.stderr


def eventually(base: str, path: str, done: Any = lambda body: True) -> Any:
    """GET ``path`` until it answers 200 with a body for which ``done`` holds; return it.

    The body must also come twice in a row, so events still on their way cannot change it
    right after it is returned.
    """
    answers: list[tuple[int, Any]] = []

    def settled() -> bool:
        answers.append(http_get(base + path))
        status, body = answers[-1]
        return status == 200 and bool(done(body)) and answers[-2:-1] == answers[-1:]

    wait_for(settled, PROCESSED_WITHIN, lambda: f"GET {path}: last answer {answers[-1:]}")
    return answers[-1][1]


def metric(base: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples with the given labels on the worker at ``base``."""
    text = http_get(base + "/metrics")[1]
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def tail(env: dict[str, str], topic: str) -> list[dict[str, Any]]:
    result = run_cli(env, "tail", topic, "--from-beginning", "--json", "--timeout", "3")
    assert result.code == 0, result.stderr
    return result.json_lines()


def as_tailed(value: bytes) -> str:
    """How ``journeyhub tail`` shows the bytes of a dead letter: text, else base64."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode("ascii")


def read_all(env: dict[str, str], topic: str) -> list[Message]:
    """Every record of a topic, each partition's from its first to its last."""
    consumer = Consumer(
        {
            "bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"],
            "group.id": f"read-all-{uuid.uuid4().hex}",
            "enable.partition.eof": True,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, number, OFFSET_BEGINNING) for number in partitions])
    records: list[Message] = []
    ended: set[int] = set()
    try:
        while (record := consumer.poll(10)) is not None:
            error = record.error()
            if error is None:
                records.append(record)
            elif error.code() == KafkaError._PARTITION_EOF:
                ended.add(record.partition())
                if ended == set(partitions):
                    return records
            else:
                raise AssertionError(error)
    finally:
        consumer.close()
    msg = f"{topic}: not every partition ended within 10 s"
    raise AssertionError(msg)


def by_phone(phone: str) -> str:
    return f"/customers?phone={quote(phone)}"


def runners_journey(env: dict[str, str], person: Person) -> None:
    """Anonymous browsing, checkout, order, praise then complaint, a custom shoe in production."""
    produce(
        env,
        "shop.events",
        product_view(person, "view-1", 0),
        product_view(person, "view-2", 4),
        checkout(person, "checkout", 10),
        order_placed(person, "order", 12),
    )
    praise = "Die Schuhe sind super, ich bin sehr zufrieden!"
    complaint = "Die Sohle ist nach einer Woche kaputt, mies verarbeitet"
    produce(
        env,
        "social.posts",
        social_post(person, "praise", praise, 6000, f"@{person.handle.upper()}"),
        social_post(person, "complaint", complaint, 16000, person.handle),
    )
    produce(
        env,
        "rfid.production",
        reading(person, "r3", "stitching", "completed", 2000),
        reading(person, "r1", "material_tagged", "completed", 1500),
        reading(person, "r4", "stitching", "failed", 1900),
        reading(person, "r2", "cutting", "completed", 1600),
    )


def journey_complete(body: dict[str, Any]) -> bool:
    return (
        body["social"]["mentions"] == 2
        and body["production"] != []
        and (body["production"][0]["current_status"] == "completed")
    )


def test_the_runners_journey_becomes_one_profile_found_by_any_spelling_of_her_phone(
    test_env: dict[str, str],
) -> None:
    erika = Person()
    with running_worker(test_env) as base:
        runners_journey(test_env, erika)
        profile = eventually(base, by_phone(erika.phone_international), journey_complete)

        assert profile["letter_salutation"] == "Sehr geehrte Frau Dr. Musterfrau"
        assert profile["salutation"] == "Frau"
        assert profile["postal_code"] == "01067"
        assert profile["phone"] == erika.e164
        assert profile["field_sources"]["postal_code"] == "shop.events"
        # Two views while anonymous and the order: the browsing counts for her.
        assert profile["interests"]["running_shoes"] == 1 + 1 + 3
        assert profile["first_seen_at"] == at(0)
        assert profile["identities"]["session_ids"] == [erika.session]
        assert profile["identities"]["social_handles"] == [erika.handle]
        assert profile["identities"]["chip_ids"] == [erika.chip]
        assert profile["orders"]["count"] == 1
        assert profile["orders"]["total"] == "129.00"
        assert profile["social"]["mentions"] == 2
        assert profile["social"]["last_sentiment"] < 0
        assert profile["production"] == [
            {
                "chip_id": erika.chip,
                "order_id": erika.order,
                "current_step": "stitching",
                "current_status": "completed",
            }
        ]
        for spelling in (erika.phone, erika.e164, "0049 171 " + erika.phone[5:]):
            assert http_get(base + by_phone(spelling)) == (200, profile)
        assert http_get(base + f"/customers?email={quote(erika.email.upper())}") == (200, profile)
        assert http_get(base + f"/customers/{profile['customer_id']}") == (200, profile)

        track = eventually(base, f"/tracking/{erika.chip}", lambda body: len(body["steps"]) == 4)
        assert track["customer_id"] == profile["customer_id"]
        assert track["order_id"] == erika.order
        assert (track["current_step"], track["current_status"]) == ("stitching", "completed")
        assert [(step["step"], step["status"]) for step in track["steps"]] == [
            ("material_tagged", "completed"),
            ("cutting", "completed"),
            ("stitching", "failed"),
            ("stitching", "completed"),
        ]

    published = [
        m for m in tail(test_env, "customer360.profiles") if m["key"] == profile["customer_id"]
    ]
    assert published, "no profile published for the customer"
    latest = published[-1]["value"]
    assert latest["letter_salutation"] == "Sehr geehrte Frau Dr. Musterfrau"
    assert latest["orders"]["count"] == 1
    assert latest["social"]["mentions"] == 2
    assert latest["production"][0]["chip_id"] == erika.chip


@pytest.fixture
def kafka_path_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of a worker on a broker it takes for Apache Kafka: its Kafka path.

    The worker then uses Faust's producer, whose records may reach the brokers of a cluster
    out of send order, and acknowledges merges before it writes its state.
    """
    log_path = tmp_path / "logs" / "broker.log"
    with EmbeddedBroker(free_port(), log_path=log_path, cluster_id="kafka-path") as broker:
        env = process_env(broker.bootstrap_servers, tmp_path)
        assert not is_embedded_broker(Settings.from_env(env))
        yield env


@pytest.mark.parametrize("env_fixture", ["test_env", "kafka_path_env"])
def test_a_cms_contact_and_a_later_shop_account_merge_into_the_older_profile(
    env_fixture: str, request: pytest.FixtureRequest
) -> None:
    test_env: dict[str, str] = request.getfixturevalue(env_fixture)
    erika = Person()
    contact = derive_customer_id(f"email:{erika.email}")
    account = derive_customer_id(f"shop_customer:{erika.account}")
    merging_checkout = checkout(erika, "checkout", 40)
    with running_worker(test_env) as base:
        produce(test_env, "cms.events", cms(erika, "download", "download", 0))
        eventually(base, f"/customers/{contact}")
        produce(
            test_env,
            "shop.events",
            shop(erika, "login", "page_view", 30, customer_id=erika.account),
        )
        eventually(base, f"/customers/{account}", lambda body: body["customer_id"] == account)

        produce(test_env, "shop.events", merging_checkout, order_placed(erika, "order", 45))
        # The checkout and the order reach the contact's profile before the account's does:
        # what they show alone can be read before the merge.
        merges = "journeyhub_customer360_merges_total"
        wait_for(lambda: metric(base, merges) == 1, PROCESSED_WITHIN, lambda: f"no {merges}")
        merged = eventually(
            base, f"/customers/{contact}", lambda body: body["orders"]["count"] == 1
        )

        assert merged["customer_id"] == contact
        assert merged["identities"]["emails"] == [erika.email]
        assert merged["identities"]["shop_customer_ids"] == [erika.account]
        assert merged["identities"]["phones"] == [erika.e164]
        assert merged["interests"]["marathon"] == 3
        assert merged["first_seen_at"] == at(0)
        assert merged["last_seen_at"] == at(45)
        assert http_get(base + f"/customers/{account}") == (200, merged)
        assert metric(base, merges) == 1

        duplicates = metric(base, "journeyhub_worker_duplicates_total", topic="shop.events")
        produce(test_env, "shop.events", merging_checkout)
        wait_for(
            lambda: (
                metric(base, "journeyhub_worker_duplicates_total", topic="shop.events") > duplicates
            ),
            PROCESSED_WITHIN,
        )
        assert http_get(base + f"/customers/{account}") == (200, merged)
        assert metric(base, "journeyhub_customer360_merges_total") == 1

    published = [m for m in tail(test_env, "customer360.profiles") if m["key"] == account]
    assert published[-1]["value"] is None, "the absorbed profile's contact must be deleted"


def test_events_delivered_twice_change_nothing_the_second_time(test_env: dict[str, str]) -> None:
    erika = Person()
    events = {
        "shop.events": [checkout(erika, "checkout", 0), order_placed(erika, "order", 5)],
        "cms.events": [cms(erika, "download", "download", 10)],
        "social.posts": [social_post(erika, "praise", "Tolle Qualität", 20, erika.handle)],
    }
    with running_worker(test_env) as base:
        for topic, records in events.items():
            produce(test_env, topic, *records)
        path = f"/customers?email={quote(erika.email)}"
        once = eventually(base, path, lambda body: body["social"]["mentions"] == 1)
        before = metric(base, "journeyhub_worker_duplicates_total")

        for topic, records in events.items():
            produce(test_env, topic, *records)
        wait_for(
            lambda: metric(base, "journeyhub_worker_duplicates_total") >= before + 4,
            PROCESSED_WITHIN,
            lambda: f"duplicates: {metric(base, 'journeyhub_worker_duplicates_total')}",
        )
        assert http_get(base + path) == (200, once)
        assert once["orders"]["count"] == 1
        assert once["interests"]["marathon"] == 3


def test_bad_events_are_dead_lettered_unchanged_and_the_stream_goes_on(
    test_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    nobody = json_to_record(
        "cms.events",
        {"event_id": f"nobody-{run}", "event_type": "download", "occurred_at": at(0)},
    )
    meaningless = make_codec(None).encode("cms.events", nobody)
    garbage = b"\x00\xffnot avro at all"
    visitor = Person()
    with running_worker(test_env) as base:
        producer = Producer({"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"]})
        producer.produce("cms.events", key=f"nobody-{run}", value=meaningless)
        producer.produce("cms.events", key=f"garbage-{run}", value=garbage)
        producer.flush(10)
        produce(test_env, "shop.events", product_view(visitor, "view", 0))

        anonymous = derive_customer_id(f"session:{visitor.session}")
        assert eventually(base, f"/customers/{anonymous}")["interests"] == {"running_shoes": 1}

    letters = {m["key"]: m for m in tail(test_env, "dlq.cms.events")}
    refused = letters[f"nobody-{run}"]
    assert refused["value"] == as_tailed(meaningless)
    refusal = f"{InvalidRecordError.__module__}.{InvalidRecordError.__qualname__}"
    assert refused["headers"]["error.class"] == refusal
    assert "names no person" in refused["headers"]["error.message"]
    assert refused["headers"]["origin.topic"] == "cms.events"
    undecodable = letters[f"garbage-{run}"]
    assert undecodable["value"] == as_tailed(garbage)
    assert undecodable["headers"]["error.class"].startswith("schemas.errors.")


def test_a_burst_of_events_reaches_the_resolver_in_bundles_that_keep_their_origin(
    test_env: dict[str, str],
) -> None:
    visitor = Person()
    codec = make_codec(None)
    values = [
        codec.encode(
            "shop.events", json_to_record("shop.events", product_view(visitor, f"v{n}", n))
        )
        for n in range(4)
    ]
    places: list[tuple[str, int, int]] = []
    with running_worker(test_env) as base:
        producer = Producer({"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"]})
        for value in values:
            producer.produce(
                "shop.events",
                key=visitor.session,
                value=value,
                on_delivery=lambda _, m: places.append((m.topic(), m.partition(), m.offset())),
            )
        producer.flush(10)
        anonymous = derive_customer_id(f"session:{visitor.session}")
        eventually(
            base, f"/customers/{anonymous}", lambda body: body["interests"] == {"running_shoes": 4}
        )

    holding: dict[tuple[str, int, int], tuple[int, ForwardedEvent]] = {}
    for record in read_all(test_env, IDENTITY_EVENTS):
        headers = dict(record.headers() or [])
        if headers.get(COMMAND_HEADER) == BUNDLE.encode():
            for _, event in decode_bundle(record.value()):
                holding[(event.topic, event.partition, event.offset)] = (record.offset(), event)
    found = [holding[place] for place in places]
    assert [event.raw for _, event in found] == values
    assert {event.key for _, event in found} == {visitor.session.encode()}
    assert len({offset for offset, _ in found}) < len(values), "events of one burst share records"


def test_a_profile_row_is_written_to_the_partition_its_events_arrive_on(
    test_env: dict[str, str],
) -> None:
    visitors = [Person() for _ in range(8)]
    codec = make_codec(None)
    with running_worker(test_env) as base:
        producer = Producer({"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"]})
        for visitor in visitors:
            for n in range(3):  # bursts then hold profiles changed more than once
                record = json_to_record("shop.events", product_view(visitor, f"v{n}", n))
                producer.produce(
                    "shop.events", key=visitor.session, value=codec.encode("shop.events", record)
                )
        producer.flush(10)
        ids = {derive_customer_id(f"session:{visitor.session}") for visitor in visitors}
        for customer_id in ids:
            eventually(
                base,
                f"/customers/{customer_id}",
                lambda body: body["interests"] == {"running_shoes": 3},
            )

    rows: dict[str, set[int]] = {}
    for record in read_all(test_env, f"journeyhub-{PROFILES_TABLE}-changelog"):
        rows.setdefault(json.loads(record.key()), set()).add(record.partition())
    arrivals: dict[str, set[int]] = {}
    for record in read_all(test_env, PROFILE_EVENTS):
        if dict(record.headers() or []).get(COMMAND_HEADER) == BUNDLE.encode():
            for customer_id, _ in decode_bundle(record.value()):
                arrivals.setdefault(str(customer_id), set()).add(record.partition())
    rows = {customer_id: found for customer_id, found in rows.items() if customer_id in ids}
    arrivals = {customer_id: found for customer_id, found in arrivals.items() if customer_id in ids}
    assert rows == arrivals
    assert set(rows) == ids
    assert len(set().union(*rows.values())) > 1, "the people spread over several partitions"


@pytest.mark.parametrize("store", STATE_STORES)
def test_a_restarted_worker_recovers_its_tables_and_answers_the_same(
    test_env: dict[str, str], store: str
) -> None:
    test_env = {**test_env, "JOURNEYHUB_STATE": store}
    erika = Person()
    paths = [by_phone(erika.phone), f"/customers?email={quote(erika.email)}"]
    with running_worker(test_env) as base:
        runners_journey(test_env, erika)
        profile = eventually(base, paths[0], journey_complete)
        paths += [f"/customers/{profile['customer_id']}", f"/tracking/{erika.chip}"]
        eventually(base, paths[-1], lambda body: len(body["steps"]) == 4)
        answers = {path: http_get(base + path) for path in paths}

    with running_worker(test_env, log_name="restarted.log") as base:
        for path, (status, body) in answers.items():
            assert status == 200
            eventually(base, path, lambda answer, expected=body: answer == expected)


def test_a_cycle_of_merges_in_a_damaged_table_answers_500_not_a_crash(
    test_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    first, second = f"c-cycle-a-{run}", f"c-cycle-b-{run}"
    with running_worker(test_env) as base:  # creates the changelog topics
        assert http_get(base + f"/customers/{first}")[0] == 404
    producer = Producer(
        {"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"], "partitioner": "murmur2_random"}
    )
    for absorbed, survivor in ((first, second), (second, first)):
        producer.produce(
            f"journeyhub-{MERGED_TABLE}-changelog",
            key=json.dumps(absorbed).encode(),
            value=json.dumps(survivor).encode(),
        )
    producer.flush(10)

    with running_worker(test_env, log_name="restarted.log") as base:
        status, body = http_get(base + f"/customers/{first}")

    assert status == 500
    assert body == {"error": f"the merges of customer {first} lead to no profile"}
