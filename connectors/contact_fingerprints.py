"""What a CRM last confirmed for each contact, so an unchanged profile is not sent again.

Profiles are emitted again for reasons a CRM does not see: an event that changed no mapped
field, a replay after a worker restart, a connector that restarts before it commits. Each
such upsert would cost a request against the CRM's rate limit and show up as a change in
the contact's history. The connector keeps, per CRM and external id, a SHA-256 of the last
body the CRM confirmed, in SQLite beside its other state, and skips an upsert whose body
has that fingerprint.

A CRM whose data was wiped behind the connector's back gets its contacts again only when
they change; delete the store file to send every contact once more.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

IN_MEMORY: Final = ":memory:"


def fingerprint(body: Mapping[str, Any]) -> str:
    """A digest of a JSON body that ignores the order of its keys."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ContactFingerprints:
    """Fingerprints of the contact bodies one CRM confirmed, by external id.

    Args:
        crm_url: The CRM the fingerprints belong to; another CRM starts with none.
        path: The SQLite file; None keeps them in memory for the life of the process.
    """

    def __init__(self, crm_url: str, path: Path | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._crm = crm_url.rstrip("/")
        self._db = sqlite3.connect(IN_MEMORY if path is None else path, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS contacts (crm TEXT NOT NULL, external_id TEXT NOT NULL,"
            " fingerprint TEXT NOT NULL, PRIMARY KEY (crm, external_id))"
        )

    def close(self) -> None:
        """Close the database; the store is unusable afterwards."""
        self._db.close()

    def unchanged(self, external_id: str, digest: str) -> bool:
        """Whether the CRM last confirmed the body of this :func:`fingerprint` for the contact."""
        row = self._db.execute(
            "SELECT fingerprint FROM contacts WHERE crm = ? AND external_id = ?",
            (self._crm, external_id),
        ).fetchone()
        return row is not None and row[0] == digest

    def confirmed(self, external_id: str, digest: str) -> None:
        """Remember that the CRM accepted the body of this :func:`fingerprint` for the contact."""
        self._db.execute(
            "INSERT OR REPLACE INTO contacts (crm, external_id, fingerprint) VALUES (?, ?, ?)",
            (self._crm, external_id, digest),
        )

    def forget(self, external_id: str) -> None:
        """Forget the contact, after the CRM deleted it."""
        self._db.execute(
            "DELETE FROM contacts WHERE crm = ? AND external_id = ?", (self._crm, external_id)
        )
