"""The worker and Python's cyclic garbage collector: long-lived objects frozen, fewer rounds.

A full collection walks every object the collector tracks, and a worker holds a large heap
that never dies: Faust, aiokafka, the schemas and rules, and the tables it recovered. Walking
it took 80 to 150 ms each time, several times a minute under load, with every stream of the
worker standing still meanwhile. Once a rebalance is complete (start-up done, tables
recovered), the heap is frozen: later collections walk only what came after.

What is frozen is never collected as cyclic garbage, even if it dies later; it is freed
anyway when nothing refers to it (most objects), so the cost is at most a few leftover
cycles per rebalance.

Python also collects its youngest objects whenever 700 more were made than freed, a threshold
set for small programs: the worker ran some 1,500 young, 140 middle and 13 full collections for
the benchmark's 20,000 events, 0.7 to 0.8 s of its time. It collects after
:data:`YOUNG_OBJECTS` instead (some 40, 3 and 2 collections, 0.2 to 0.26 s; see the README).
"""

from __future__ import annotations

import gc
from typing import Any

import faust
import structlog

log = structlog.get_logger(__name__)

YOUNG_OBJECTS = 20_000
"""New objects after which the collector looks at the youngest generation (Python: 700).

The older generations keep Python's ratios (every 10th collection of the one below), so each
is collected 28 times less often too. A young collection took some 6 ms at this size.
"""


def collect_less_often() -> None:
    """Set the worker's collection thresholds (see the module)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)


def freeze_heap() -> None:
    """Collect what is garbage now, then hide every surviving object from later collections."""
    gc.collect()
    gc.freeze()
    log.info("heap_frozen", objects=gc.get_freeze_count())


def freeze_heap_after_rebalances(app: faust.App) -> None:
    """Freeze the heap whenever a rebalance of ``app`` is complete (see the module)."""

    async def after_rebalance(sender: faust.App, **_: Any) -> None:
        freeze_heap()

    app.on_rebalance_complete.connect(after_rebalance)  # type: ignore[arg-type]
