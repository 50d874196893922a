"""The record-cost benchmark's arms publish every record they count, each the worker's way."""

import pytest

from streams.settings import Settings
from tests.bench.cluster import Cluster
from tests.bench.record_cost import ARMS, Arm, measure

RECORDS = 120


@pytest.mark.parametrize("arm", ARMS, ids=lambda arm: arm.name)
async def test_an_arm_delivers_every_table_write_and_output_it_counts(
    settings: Settings, arm: Arm
) -> None:
    cluster = Cluster(settings.kafka_bootstrap_servers, embedded=False, run_id="test")

    cost = await measure(cluster, arm, RECORDS)

    assert cost.delivered == 2 * RECORDS
