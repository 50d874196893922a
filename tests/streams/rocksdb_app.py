"""A Faust app of the tests that keeps its tables in the worker's RocksDB store, with no broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from streams.rocksdb_store import SCHEME, register_store


def rocksdb_app(name: str, data_dir: Path, **options: Any) -> faust.App:
    """An app whose tables live under ``data_dir``; ``options`` go to Faust (e.g. ``Table``).

    Its broker is never reached: the tests open the stores' partitions themselves.
    """
    register_store()
    return faust.App(
        name,
        broker="kafka://localhost:1",
        store=f"{SCHEME}://",
        datadir=str(data_dir),
        **options,
    )
