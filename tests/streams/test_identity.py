from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.identifiers import IdentityError, identifiers_from
from streams.identity import (
    IdentityGraph,
    Merge,
    Resolution,
    ResolutionOutcome,
    StagedGraph,
    derive_customer_id,
    follow_alias,
    is_provisional,
    owners,
    resolve,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def shop(
    event_id: str,
    session: str,
    minutes: int = 0,
    account: str | None = None,
    email: str | None = None,
    order_id: str | None = None,
) -> dict[str, Any]:
    customer = None
    if email:
        customer = {
            "first_name": "Erika",
            "last_name": "Musterfrau",
            "gender": "female",
            "title": None,
            "email": email,
            "phone": "0171 1234567",
            "street": "Hauptstraße 1",
            "postal_code": "01067",
            "city": "Dresden",
            "country": "DE",
            "social_handles": ["@Erika_M"],
        }
    order = {"order_id": order_id, "items": [], "total": 0, "currency": "EUR"} if order_id else None
    return {
        "event_id": event_id,
        "event_type": "order_placed" if order_id else "product_view",
        "occurred_at": T0 + timedelta(minutes=minutes),
        "session_id": session,
        "customer_id": account,
        "customer": customer,
        "order": order,
    }


def feed(graph: IdentityGraph, topic: str, record: dict[str, Any]) -> Resolution:
    moment = record.get("occurred_at") or record.get("posted_at") or T0
    resolution = resolve(
        graph, identifiers_from(topic, record), event_id=record["event_id"], occurred_at=moment
    )
    graph.apply(resolution)
    return resolution


def test_shop_identifiers_are_normalised_and_strongest_first() -> None:
    keys = identifiers_from("shop.events", shop("e1", "s-1", account="42", email="Erika@X.de "))
    assert keys == [
        "shop_customer:42",
        "email:erika@x.de",
        "phone:+491711234567",
        "handle:erika_m",
        "session:s-1",
    ]


@pytest.mark.parametrize(
    ("topic", "record", "expected"),
    [
        ("social.posts", {"author_handle": "@Erika_M"}, ["handle:erika_m"]),
        ("rfid.production", {"chip_id": "C1", "order_id": "O1"}, ["order:O1", "chip:C1"]),
        ("cms.events", {"email": "A@B.de", "session_id": None}, ["email:a@b.de"]),
        (
            "consent.events",
            {"customer_id": "42", "session_id": "s"},
            ["shop_customer:42", "session:s"],
        ),
        ("privacy.requests", {"customer_id": None, "email": "a@b.de"}, ["email:a@b.de"]),
    ],
)
def test_each_source_names_its_identifiers(
    topic: str, record: dict[str, Any], expected: list[str]
) -> None:
    assert identifiers_from(topic, record) == expected


def test_topics_without_people_are_refused() -> None:
    with pytest.raises(IdentityError, match=r"erp\.invoices carries no identifiers"):
        identifiers_from("erp.invoices", {})


def test_event_without_any_identifier_cannot_be_attributed() -> None:
    with pytest.raises(IdentityError, match="event e1 carries no identifier"):
        resolve(IdentityGraph(), [], event_id="e1", occurred_at=T0)


def test_identifier_of_an_unknown_kind_is_named() -> None:
    with pytest.raises(IdentityError, match="event e1: unknown identifier kind in \\['fax:1'\\]"):
        resolve(IdentityGraph(), ["fax:1", "email:a@b.de"], event_id="e1", occurred_at=T0)


def test_new_customer_id_is_derived_from_the_strongest_identifier() -> None:
    resolution = feed(IdentityGraph(), "shop.events", shop("e1", "s-1", account="42"))
    assert resolution.created
    assert resolution.customer_id == derive_customer_id("shop_customer:42")
    assert resolution.customer_id.startswith("c-")
    assert len(resolution.customer_id) == 18


def test_anonymous_session_becomes_the_customer_at_checkout() -> None:
    graph = IdentityGraph()
    browsing = feed(graph, "shop.events", shop("e1", "s-1"))
    assert is_provisional(browsing.customer_id)
    assert feed(graph, "shop.events", shop("e2", "s-1", minutes=5)).customer_id == (
        browsing.customer_id
    )

    checkout = feed(graph, "shop.events", shop("e3", "s-1", 10, account="42", email="e@x.de"))

    assert not is_provisional(checkout.customer_id)
    assert checkout.merges == (Merge(checkout.customer_id, browsing.customer_id, "e3"),)
    assert graph.first_seen(checkout.customer_id) == graph.first_seen(browsing.customer_id)
    assert graph.owner("session:s-1") == checkout.customer_id


def test_each_resolution_names_its_outcome_and_a_merge_outranks_a_new_id() -> None:
    graph = IdentityGraph()
    browsing = feed(graph, "shop.events", shop("e1", "s-1"))
    again = feed(graph, "shop.events", shop("e2", "s-1", minutes=5))
    checkout = feed(graph, "shop.events", shop("e3", "s-1", 10, account="42"))

    assert [browsing.outcome, again.outcome] == [ResolutionOutcome.NEW, ResolutionOutcome.KNOWN]
    assert checkout.created
    assert checkout.merges
    assert checkout.outcome == ResolutionOutcome.MERGED


def test_a_replay_of_the_same_events_yields_the_same_ids() -> None:
    events = [
        shop("e1", "s-1"),
        shop("e2", "s-1", 5, account="42", email="e@x.de"),
        shop("e3", "s-2", 60, email="E@X.de", order_id="O-1"),
    ]
    runs = []
    for _ in range(2):
        graph = IdentityGraph()
        runs.append([feed(graph, "shop.events", event) for event in events])
    assert runs[0] == runs[1]


def test_a_staged_graph_resolves_as_the_graph_but_writes_only_at_commit() -> None:
    events = [
        shop("e1", "s-1"),
        shop("e2", "s-1", 5, account="42", email="e@x.de"),
        shop("e3", "s-2", 60, email="E@X.de", order_id="O-1"),
        shop("e4", "s-3", 90, account="43", email="f@x.de"),
    ]
    direct = IdentityGraph()
    expected = [feed(direct, "shop.events", event) for event in events]
    graph = IdentityGraph()
    feed(graph, "shop.events", events[0])
    before = IdentityGraph(dict(graph.keys), dict(graph.aliases), dict(graph.born))
    staged = StagedGraph(graph)

    resolutions = [expected[0]]
    for event in events[1:]:
        resolution = resolve(
            staged.view,
            identifiers_from("shop.events", event),
            event_id=event["event_id"],
            occurred_at=event["occurred_at"],
        )
        staged.apply(resolution)
        resolutions.append(resolution)

    assert resolutions == expected
    assert resolutions[1].merges, "the checkout merges the browsing session"
    assert graph == before
    staged.commit()
    assert graph == direct


class WriteLog(dict[str, Any]):
    """A table that remembers the order of the writes to it, across tables."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def __setitem__(self, key: str, value: Any) -> None:
        self.log.append((self.name, key))
        super().__setitem__(key, value)


def test_a_staged_graph_commits_resolution_after_resolution_so_a_crash_leaves_a_prefix() -> None:
    log: list[tuple[str, str]] = []
    tables = [WriteLog(name, log) for name in ("keys", "aliases", "born")]
    staged = StagedGraph(IdentityGraph(*tables))
    events = [shop("e1", "s-1"), shop("e2", "s-1", 5, account="42", email="e@x.de")]
    for event in events:
        identifiers = identifiers_from("shop.events", event)
        moment = event["occurred_at"]
        staged.apply(resolve(staged.view, identifiers, event_id="e", occurred_at=moment))
    expected: list[tuple[str, str]] = []
    for resolution in staged.resolutions:
        expected += [("keys", key) for key in resolution.assignments]
        expected += [("aliases", merge.absorbed) for merge in resolution.merges]
        expected += [("born", customer_id) for customer_id in resolution.born]

    staged.commit()

    assert log == expected
    assert [table for table, _ in log].count("born") == 2, "the session's, then the account's"


class LookupLog(dict[str, Any]):
    """A table that notes every lookup in it: a read, or a question whether it holds a key."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def __getitem__(self, key: str) -> Any:
        self.log.append((self.name, key))
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.log.append((self.name, str(key)))
        return super().__contains__(key)


def test_a_staged_graph_looks_each_read_up_once_in_the_tables() -> None:
    log: list[tuple[str, str]] = []
    graph = IdentityGraph(*(LookupLog(name, log) for name in ("keys", "aliases", "born")))
    known = feed(graph, "shop.events", shop("e1", "s-1", account="42", email="e@x.de"))
    staged = StagedGraph(graph)
    log.clear()

    assert staged.view.owner("email:e@x.de") == known.customer_id
    assert staged.view.owner("email:nobody@x.de") is None
    assert staged.view.first_seen(known.customer_id) is not None

    assert log == [
        ("keys", "email:e@x.de"),
        ("aliases", known.customer_id),
        ("keys", "email:nobody@x.de"),
        ("born", known.customer_id),
    ]


def _two_known_customers() -> IdentityGraph:
    graph = IdentityGraph()
    feed(graph, "shop.events", shop("e1", "s-1", 0, account="older", email="old@x.de"))
    feed(
        graph,
        "social.posts",
        {"event_id": "p1", "author_handle": "@newer", "posted_at": T0 + timedelta(hours=1)},
    )
    return graph


@pytest.mark.parametrize(
    "identifiers",
    [
        ["handle:newer", "email:old@x.de"],
        ["email:old@x.de", "handle:newer"],
    ],
)
def test_the_customer_seen_first_survives_a_merge_whatever_the_order(
    identifiers: list[str],
) -> None:
    graph = _two_known_customers()
    older, newer = graph.owner("email:old@x.de"), graph.owner("handle:newer")
    resolution = resolve(graph, identifiers, event_id="link", occurred_at=T0 + timedelta(hours=2))
    assert resolution.customer_id == older
    assert resolution.merges == (Merge(str(older), str(newer), "link"),)


def test_equal_first_seen_keeps_the_smaller_id() -> None:
    graph = IdentityGraph(keys={"email:a@x.de": "c-b", "email:b@x.de": "c-a"})
    graph.born.update({"c-a": 5, "c-b": 5})
    resolution = resolve(graph, ["email:a@x.de", "email:b@x.de"], event_id="e", occurred_at=T0)
    assert resolution.customer_id == "c-a"


def test_merging_twice_changes_nothing() -> None:
    graph = _two_known_customers()
    link = ["email:old@x.de", "handle:newer"]
    graph.apply(resolve(graph, link, event_id="link", occurred_at=T0))
    again = resolve(graph, link, event_id="link", occurred_at=T0)
    assert again == Resolution(again.customer_id)


def test_identifiers_of_an_absorbed_customer_lead_to_the_survivor() -> None:
    graph = _two_known_customers()
    survivor = feed(
        graph,
        "cms.events",
        {
            "event_id": "c1",
            "email": "old@x.de",
            "customer_id": None,
            "session_id": None,
            "occurred_at": T0,
        },
    )
    graph.apply(resolve(graph, ["email:old@x.de", "handle:newer"], event_id="l", occurred_at=T0))
    later_post = feed(
        graph, "social.posts", {"event_id": "p2", "author_handle": "NEWER", "posted_at": T0}
    )
    assert later_post.customer_id == survivor.customer_id
    assert later_post.merges == ()


def test_a_shared_computer_does_not_merge_two_customers() -> None:
    graph = IdentityGraph()
    anna = feed(graph, "shop.events", shop("e1", "family-pc", 0, account="anna"))
    ben = feed(graph, "shop.events", shop("e2", "family-pc", 30, account="ben"))
    assert ben.customer_id != anna.customer_id
    assert ben.merges == ()
    assert graph.owner("session:family-pc") == ben.customer_id
    assert feed(graph, "shop.events", shop("e3", "family-pc", 40)).customer_id == ben.customer_id
    assert graph.owner("shop_customer:anna") == anna.customer_id


def test_chip_is_linked_to_the_customer_of_its_order() -> None:
    graph = IdentityGraph()
    buyer = feed(graph, "shop.events", shop("e1", "s-1", 0, account="42", order_id="O-7"))
    chip = feed(
        graph,
        "rfid.production",
        {"event_id": "r1", "chip_id": "CH-1", "order_id": "O-7", "occurred_at": T0},
    )
    assert chip.customer_id == buyer.customer_id
    assert graph.owner("chip:CH-1") == buyer.customer_id


def test_looking_up_owners_creates_nobody() -> None:
    graph = _two_known_customers()
    keys = identifiers_from("privacy.requests", {"customer_id": None, "email": "OLD@x.de"})
    assert owners(graph, keys) == {graph.owner("email:old@x.de")}
    assert owners(graph, ["email:nobody@x.de"]) == set()
    assert "email:nobody@x.de" not in graph.keys


def test_alias_chains_are_shortened_while_followed() -> None:
    aliases = {"c-1": "c-2", "c-2": "c-3", "c-3": "c-4"}
    assert follow_alias(aliases, "c-1") == "c-4"
    assert aliases == {"c-1": "c-4", "c-2": "c-4", "c-3": "c-4"}
    assert follow_alias(aliases, "c-9") == "c-9"


def test_alias_cycle_is_reported() -> None:
    with pytest.raises(IdentityError, match="cycle"):
        follow_alias({"c-1": "c-2", "c-2": "c-1"}, "c-1")
