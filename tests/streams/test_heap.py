import gc
import weakref
from collections.abc import Iterator

import faust
import pytest

from streams.heap import (
    YOUNG_OBJECTS,
    collect_less_often,
    freeze_heap,
    freeze_heap_after_rebalances,
)


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def tracked(thing: object) -> bool:
    """True when a collection would walk ``thing``."""
    return any(candidate is thing for candidate in gc.get_objects())


def test_objects_alive_at_the_freeze_are_no_longer_walked() -> None:
    long_lived = [{"customer_id": f"c-{number}"} for number in range(3)]
    assert tracked(long_lived)

    freeze_heap()
    later = [{"customer_id": "c-later"}]

    assert not tracked(long_lived)
    assert tracked(later)
    assert gc.get_freeze_count() > 0


def test_cyclic_garbage_of_before_the_freeze_is_collected_first() -> None:
    class Node:
        peer: object

    collected: list[str] = []
    cycle = Node()
    cycle.peer = cycle
    weak_finalizer = weakref.finalize(cycle, collected.append, "gone")
    del cycle

    freeze_heap()

    assert collected == ["gone"]
    assert not weak_finalizer.alive


async def test_a_completed_rebalance_freezes_the_heap() -> None:
    app = faust.App("heap-test", broker="memory://", store="memory://")
    freeze_heap_after_rebalances(app)
    assert gc.get_freeze_count() == 0

    await app.on_rebalance_complete.send()

    assert gc.get_freeze_count() > 0


def test_the_worker_collects_young_objects_less_often_than_python_does() -> None:
    before = gc.get_threshold()
    try:
        collect_less_often()

        young, middle, old = gc.get_threshold()
        assert young == YOUNG_OBJECTS > before[0]
        assert (middle, old) == before[1:]
    finally:
        gc.set_threshold(*before)
