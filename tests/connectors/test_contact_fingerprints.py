"""An unchanged contact is not sent to the CRM again, across restarts; a changed one is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.contact_fingerprints import ContactFingerprints, fingerprint
from connectors.crm import CrmSink
from connectors.sandbox_crm import SandboxOptions
from streams.broker import free_port
from tests.connectors.conftest import SandboxCrm
from tests.connectors.records import profile, record

CRM = "http://crm.example.test"


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint({"a": 1, "b": "x"}) == fingerprint({"b": "x", "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_fingerprints_outlive_the_process_and_belong_to_one_crm(tmp_path: Path) -> None:
    path = tmp_path / "crm-contacts.sqlite3"
    store = ContactFingerprints(CRM, path)
    store.confirmed("c-1", fingerprint({"email": "c-1@example.test"}))
    store.close()

    reopened = ContactFingerprints(CRM + "/", path)
    other_crm = ContactFingerprints("http://other-crm.example.test", path)
    assert reopened.unchanged("c-1", fingerprint({"email": "c-1@example.test"}))
    assert not reopened.unchanged("c-1", fingerprint({"email": "new@example.test"}))
    assert not reopened.unchanged("c-2", fingerprint({"email": "c-1@example.test"}))
    assert not other_crm.unchanged("c-1", fingerprint({"email": "c-1@example.test"}))
    reopened.forget("c-1")
    assert not reopened.unchanged("c-1", fingerprint({"email": "c-1@example.test"}))
    reopened.close()
    other_crm.close()


async def requests_to(crm: SandboxCrm) -> int:
    stats: dict[str, Any] = await crm.get("/stats")
    return int(stats.get("requests", 0))


async def test_the_crm_gets_a_contact_again_only_when_it_changed(tmp_path: Path) -> None:
    crm = SandboxCrm(tmp_path / "crm", SandboxOptions(port=free_port()))
    await crm.start()
    state = tmp_path / "connector" / "crm-contacts.sqlite3"
    offsets = iter(range(100))

    async def deliver(*values: dict[str, Any] | None) -> int:
        """Deliver each value as its own batch with a fresh sink; the CRM requests it cost."""
        before = await requests_to(crm)
        for value in values:
            sink = CrmSink(crm.url, fingerprints_path=state)
            await sink.open()
            await sink.deliver([record("c-1", value, next(offsets))])
            await sink.close()
        return await requests_to(crm) - before

    first = profile("c-1", lead_score=10)
    try:
        assert await deliver(first) == 1
        assert await deliver(first, first) == 0
        assert await deliver(profile("c-1", lead_score=20)) == 1
        assert (await crm.contacts("c-1"))["c-1"]["lead_score"] == 20
        assert await deliver(None) == 1
        assert await crm.contacts("c-1") == {}
        assert await deliver(profile("c-1", lead_score=20)) == 1
        stats = await crm.get("/stats")
    finally:
        await crm.stop()
    assert stats["duplicate_requests"] == 0
