"""The in-order producer: a ready batch takes every other batch along, so send order holds."""

from __future__ import annotations

import asyncio

import faust
import pytest
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.structs import TopicPartition

from streams.embedded_transport import use_embedded_transport
from streams.in_order_producer import InOrderAccumulator, delivered_before_durable_state
from streams.rocksdb_store import SCHEME

LINGER_MS = 50
STATE = TopicPartition("journeyhub-customer-profiles-changelog", 0)
OUTPUT = TopicPartition("crm.leads", 3)
BROKER = 0


class OneBroker:
    """Cluster metadata of a single broker leading every partition (the embedded broker)."""

    def leader_for_partition(self, _tp: TopicPartition) -> int:
        return BROKER


async def fill_output_then_state(accumulator: MessageAccumulator) -> None:
    """An older batch of state, then an event's output and the state that remembers it.

    After this the state batch's linger is over and the output batch's is not.
    """
    await accumulator.add_message(STATE, b"a", b"state of an earlier event", timeout=1)
    await asyncio.sleep(LINGER_MS / 1000 * 0.6)
    await accumulator.add_message(OUTPUT, b"b", b"the output of an event", timeout=1)
    await accumulator.add_message(STATE, b"b", b"the state that remembers it", timeout=1)
    await asyncio.sleep(LINGER_MS / 1000 * 0.6)


def drained(accumulator: MessageAccumulator, in_flight: set[int]) -> set[TopicPartition]:
    nodes, _ = accumulator.drain_by_nodes(ignore_nodes=in_flight)
    return {tp for batches in nodes.values() for tp in batches}


async def test_a_ready_batch_takes_the_younger_batches_along() -> None:
    accumulator = InOrderAccumulator(OneBroker(), 16_384, 0, 30.0, linger_ms=LINGER_MS)
    await fill_output_then_state(accumulator)

    assert drained(accumulator, set()) == {STATE, OUTPUT}


async def test_aiokafka_alone_would_send_the_state_before_the_output() -> None:
    accumulator = MessageAccumulator(OneBroker(), 16_384, 0, 30.0, linger_ms=LINGER_MS)
    await fill_output_then_state(accumulator)

    assert drained(accumulator, set()) == {STATE}


async def test_records_linger_while_no_batch_is_ready() -> None:
    accumulator = InOrderAccumulator(OneBroker(), 16_384, 0, 30.0, linger_ms=LINGER_MS)
    await accumulator.add_message(OUTPUT, b"b", b"the output of an event", timeout=1)

    assert drained(accumulator, set()) == set()
    await asyncio.sleep(LINGER_MS / 1000 * 1.2)
    assert drained(accumulator, set()) == {OUTPUT}


async def test_nothing_leaves_while_the_broker_has_a_request_in_flight() -> None:
    accumulator = InOrderAccumulator(OneBroker(), 16_384, 0, 30.0, linger_ms=LINGER_MS)
    await fill_output_then_state(accumulator)

    assert drained(accumulator, {BROKER}) == set()
    assert drained(accumulator, set()) == {STATE, OUTPUT}


async def test_ending_the_lingers_sends_everything_at_once_and_wakes_the_sender() -> None:
    accumulator = InOrderAccumulator(OneBroker(), 16_384, 0, 30.0, linger_ms=60_000)
    await accumulator.add_message(OUTPUT, b"b", b"a lead an agent waits for", timeout=1)
    await accumulator.add_message(STATE, b"a", b"state of another event", timeout=1)
    assert drained(accumulator, set()) == set()
    sender_wakes = accumulator.waiter()
    await accumulator.add_message(OUTPUT, b"c", b"another lead", timeout=1)

    accumulator.end_lingers()

    assert sender_wakes.done()
    assert drained(accumulator, set()) == {STATE, OUTPUT}


@pytest.mark.parametrize(("store", "waits"), [("memory://", False), (f"{SCHEME}://", True)])
async def test_outputs_are_acknowledged_before_state_that_a_crash_keeps_on_disk(
    store: str, waits: bool
) -> None:
    app = faust.App(f"in-order-test-{waits}", broker="kafka://localhost:1", store=store)
    use_embedded_transport(app)  # the in-order producer; never started, nothing is sent
    delivery = asyncio.get_running_loop().create_future()

    waiting = asyncio.create_task(delivered_before_durable_state(app, [delivery]))
    await asyncio.sleep(0.05)
    returned_before_the_broker_had_it = waiting.done()
    delivery.set_result(None)
    await waiting

    assert returned_before_the_broker_had_it is not waits
