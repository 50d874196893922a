"""SQLite storage of the sandbox CRM: contacts, leads and request counters.

Kept apart from the HTTP layer so the data survives restarts of the sandbox (a stopped CRM
comes back with what it had) and so the bookkeeping rules (what counts as a duplicate) live
in one place.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Final, Literal

DATABASE_NAME: Final = "sandbox-crm.sqlite3"

Counter = Literal["requests", "duplicate_requests", "rejected_requests"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS contacts (
    external_id TEXT PRIMARY KEY,
    email TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_email ON contacts (email);
CREATE TABLE IF NOT EXISTS leads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _contact(external_id: str, body: str) -> dict[str, Any]:
    return {**json.loads(body), "external_id": external_id}


def _email_of(body: dict[str, Any]) -> str | None:
    email = body.get("email")
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


class SandboxStore:
    """Contacts, leads and counters of the sandbox CRM in `<data_dir>/sandbox-crm.sqlite3`.

    Every call is a few statements in autocommit mode, quick enough to run on the event loop;
    the sandbox calls the store from that one thread only, so a read-then-write cannot interleave.
    """

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DATABASE_NAME
        self._db = sqlite3.connect(self.path, isolation_level=None)
        # A sandbox may lose the last writes in a power cut; it must not be slow per request.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database; the store is unusable afterwards."""
        self._db.close()

    def upsert_contact(self, external_id: str, body: dict[str, Any]) -> tuple[bool, bool]:
        """Create or replace a contact.

        Returns:
            `(created, unchanged)`: whether the contact is new, and whether the stored body
            already equalled `body` (a duplicate request).
        """
        canonical = _canonical(body)
        row = self._db.execute(
            "SELECT body FROM contacts WHERE external_id = ?", (external_id,)
        ).fetchone()
        if row is not None and row[0] == canonical:
            return False, True
        self._db.execute(
            "INSERT INTO contacts (external_id, email, body) VALUES (?, ?, ?) "
            "ON CONFLICT (external_id) DO UPDATE SET email = excluded.email, body = excluded.body",
            (external_id, _email_of(body), canonical),
        )
        return row is None, False

    def delete_contact(self, external_id: str) -> bool:
        """Delete a contact; returns False when there was none."""
        cursor = self._db.execute("DELETE FROM contacts WHERE external_id = ?", (external_id,))
        return cursor.rowcount > 0

    def get_contact(self, external_id: str) -> dict[str, Any] | None:
        """Return a contact (its body plus `external_id`), or None."""
        row = self._db.execute(
            "SELECT external_id, body FROM contacts WHERE external_id = ?", (external_id,)
        ).fetchone()
        return _contact(*row) if row else None

    def find_contacts(self, email: str | None = None) -> list[dict[str, Any]]:
        """Return every contact, or those whose e-mail equals `email` (case-insensitive)."""
        if email is None:
            rows = self._db.execute("SELECT external_id, body FROM contacts ORDER BY external_id")
        else:
            rows = self._db.execute(
                "SELECT external_id, body FROM contacts WHERE email = ? ORDER BY external_id",
                (email.strip().lower(),),
            )
        return [_contact(*row) for row in rows]

    def add_lead(self, idempotency_key: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a lead once per idempotency key.

        Returns:
            `(lead, created)`: the stored lead (the original one for a repeated key) and
            whether it was created by this call.
        """
        row = self._db.execute(
            "SELECT body FROM leads WHERE idempotency_key = ?", (idempotency_key,)
        ).fetchone()
        if row is not None:
            return json.loads(row[0]), False
        self._db.execute(
            "INSERT INTO leads (idempotency_key, body) VALUES (?, ?)",
            (idempotency_key, _canonical(body)),
        )
        return body, True

    def list_leads(self) -> list[dict[str, Any]]:
        """Return every lead in the order it was created."""
        rows = self._db.execute("SELECT body FROM leads ORDER BY seq")
        return [json.loads(body) for (body,) in rows]

    def count(self, counter: Counter) -> None:
        """Add one to a request counter."""
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1",
            (counter,),
        )

    def stats(self) -> dict[str, int]:
        """Return the numbers of `GET /stats`."""
        counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        (contacts,) = self._db.execute("SELECT COUNT(*) FROM contacts").fetchone()
        (leads,) = self._db.execute("SELECT COUNT(*) FROM leads").fetchone()
        return {
            "contacts": contacts,
            "leads": leads,
            "requests": counters.get("requests", 0),
            "duplicate_requests": counters.get("duplicate_requests", 0),
            "rejected_requests": counters.get("rejected_requests", 0),
        }
