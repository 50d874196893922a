import json
from typing import Any

import pytest

from schemas.codec import SingleObjectCodec
from streams.contact import Channel, Decision, Job, SuppressionReason, decide, record_contact
from streams.identifiers import identifiers_from
from streams.identity import IdentityGraph, owners, resolve
from streams.privacy import (
    Erasure,
    Objection,
    PrivacyError,
    access_response,
    erase,
    honour_objections,
)
from streams.profile import Profile
from tests.streams.test_profile import NOW, RULES, at, build, consent, order, rfid

EMAIL = "erika@example.de"


def request(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": f"req-{kind}",
        "customer_id": None,
        "email": "Erika@Example.DE",
        "type": kind,
        "requested_at": at(100),
        **fields,
    }


def erika(*events: tuple[str, dict[str, Any]]) -> Profile:
    profile = build(
        ("shop.events", order("e1", "O-1", "100.00")),
        ("rfid.production", rfid("r1", "cutting", "completed", 10)),
        *events,
    )
    planned = Job("job-1", profile.customer_id, Channel.MAIL, "cross_sell", "Pedale")
    record_contact(profile, planned, RULES, at(20))
    return profile


def fits_the_topic(record: dict[str, Any]) -> bool:
    codec = SingleObjectCodec()
    return codec.decode("privacy.responses", codec.encode("privacy.responses", record)) == record


def test_access_hands_out_everything_stored_about_the_person() -> None:
    profile = erika(("consent.events", consent("k1", "marketing_email", False, 30)))

    response = access_response([profile], request("access"), NOW)

    assert (response["status"], response["customer_id"]) == ("completed", "c-1")
    (data,) = json.loads(response["data"])["profiles"]
    assert data["profile"]["email"] == EMAIL
    assert data["profile"]["identities"]["shop_customer_ids"] == ["42"]
    stored = data["stored"]
    assert stored["fields"]["first_name"]["source"] == "shop.events"
    assert stored["consent"]["marketing_email"][0] is False
    assert stored["contacts"][0][0] == "job-1"
    assert "O-1" in stored["orders"]
    assert fits_the_topic(response)


def test_a_request_for_an_unknown_person_is_answered_not_found() -> None:
    access = access_response([], request("access"), NOW)
    erasure = erase([], request("erasure"), NOW)

    assert (access["status"], access["data"]) == ("not_found", None)
    assert erasure.response["status"] == "not_found"
    assert (erasure.customer_ids, erasure.identity_keys) == ((), ())
    assert fits_the_topic(access)
    assert fits_the_topic(erasure.response)


def test_erasure_removes_every_identifier_so_nobody_is_found_by_them() -> None:
    profile = erika()
    graph = IdentityGraph()
    for topic, record in [
        ("shop.events", order("e1", "O-1", "100.00")),
        ("rfid.production", rfid("r1", "cutting", "completed", 10)),
    ]:
        keys = identifiers_from(topic, record)
        graph.apply(resolve(graph, keys, event_id=record["event_id"], occurred_at=at(0)))
    (owner,) = owners(graph, identifiers_from("privacy.requests", request("erasure")))
    profile.customer_id = owner

    erasure = erase([profile], request("erasure"), NOW)
    for key in erasure.identity_keys:
        del graph.keys[key]

    assert erasure.customer_ids == (owner,)
    assert {"email:" + EMAIL, "order:O-1", "chip:CH-1", "session:s-1"} <= set(erasure.identity_keys)
    assert graph.keys == {}
    assert (erasure.response["status"], erasure.response["data"]) == ("completed", None)
    assert fits_the_topic(erasure.response)


def test_erasure_alone_keeps_nothing_about_the_person() -> None:
    assert erase([erika()], request("erasure"), NOW).objections == {}


def test_an_objection_outlives_the_erasure_only_as_hashes() -> None:
    objected = erika(("consent.events", consent("k1", "marketing_email", False, 30)))

    erasure = erase([objected], request("erasure"), NOW)

    assert erasure.objections
    stored = json.dumps({key: value.to_dict() for key, value in erasure.objections.items()})
    assert EMAIL not in stored and "+491711234567" not in stored and "42" not in stored
    assert {tuple(objection.refused) for objection in erasure.objections.values()} == {
        ("marketing_email",)
    }


def test_a_returning_person_who_objected_gets_no_marketing_mail_until_consenting_again() -> None:
    erasure = erase(
        [erika(("consent.events", consent("k1", "marketing_email", False, 30)))],
        request("erasure"),
        NOW,
    )
    stored = {
        key: Objection.from_dict(value.to_dict()) for key, value in erasure.objections.items()
    }
    returning = build(("shop.events", order("e7", "O-7", "20.00", minutes=500)), customer_id="c-9")
    planned = Job("job-9", "c-9", Channel.MAIL, "cross_sell", "Pedale")
    assert decide(returning, planned, RULES, at(600)) == Decision(send=True)

    assert honour_objections(returning, stored) is True
    assert decide(returning, planned, RULES, at(600)) == Decision(
        False, SuppressionReason.NO_CONSENT
    )
    assert honour_objections(returning, stored) is False

    fresh = build(
        ("shop.events", order("e7", "O-7", "20.00", minutes=500)),
        ("consent.events", consent("k9", "marketing_email", True, 550)),
        customer_id="c-9",
    )
    assert honour_objections(fresh, stored) is False
    assert decide(fresh, planned, RULES, at(600)) == Decision(send=True)


@pytest.mark.parametrize("kind", ["access", "erasure"])
def test_a_request_answered_with_the_wrong_function_is_refused(kind: str) -> None:
    wrong = request("erasure" if kind == "access" else "access")

    with pytest.raises(PrivacyError, match=f"asks for {wrong['type']}, not {kind}"):
        if kind == "access":
            access_response([erika()], wrong, NOW)
        else:
            erase([erika()], wrong, NOW)


def test_an_erasure_handed_to_the_resolver_arrives_unchanged() -> None:
    profile = erika(("consent.events", consent("k1", "marketing_email", False, 30)))
    erasure = erase([profile], request("erasure"), NOW)

    assert Erasure.from_json(erasure.to_json()) == erasure
