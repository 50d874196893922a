"""Scenario (e): the CRM connector delivering the pipeline's profiles and leads.

It runs on the cluster the one-worker pipeline run left behind, so the connector delivers
real profiles (customers become contacts, prospects are skipped, leads are posted) to a
sandbox CRM, both started as `journeyhub` commands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from streams.broker import free_port
from tests.bench.cluster import Cluster
from tests.bench.measure import SAMPLE_INTERVAL, BenchTimeoutError, Series, Throughput, throughput
from tests.bench.processes import BenchProcess, cluster_env, http_get

QUIET_SECONDS = 3.0
"""Deliveries that did not grow for this long are finished."""


@dataclass(frozen=True)
class ConnectorRun:
    """What the CRM connector delivered.

    Attributes:
        throughput: Requests the sandbox CRM answered, per second.
        contacts: Contacts in the CRM at the end.
        leads: Leads in the CRM at the end.
    """

    throughput: Throughput
    contacts: int
    leads: int


def run_crm_connector(cluster: Cluster, log_dir: Path, timeout: float) -> ConnectorRun:
    """Deliver what is on ``customer360.profiles`` and ``crm.leads`` and time the requests.

    Raises:
        BenchTimeoutError: The connector did not settle within ``timeout`` seconds.
    """
    port = free_port()
    stats_url = f"http://127.0.0.1:{port}/stats"
    env = cluster_env(cluster, log_dir / f"crm-{cluster.run_id}")
    crm = BenchProcess(["sandbox-crm", "--port", str(port)], env, log_dir / "sandbox-crm.log")
    connector: BenchProcess | None = None
    try:
        while http_get(stats_url) is None:
            crm.check_alive()
            time.sleep(SAMPLE_INTERVAL)
        connector_env = {**env, "CRM_URL": f"http://127.0.0.1:{port}"}
        connector = BenchProcess(["connect", "crm"], connector_env, log_dir / "connect-crm.log")
        requests = Series()
        deadline = time.monotonic() + timeout
        while True:
            stats = http_get(stats_url) or {}
            now = time.monotonic()
            requests.add(now, int(stats.get("requests", 0)))
            last = requests.last_change_at()
            if last is not None and now - last >= QUIET_SECONDS:
                contacts, leads = int(stats.get("contacts", 0)), int(stats.get("leads", 0))
                return ConnectorRun(throughput(requests, last), contacts, leads)
            if now > deadline:
                msg = f"CRM connector: {requests.last} requests after {timeout:g} s"
                raise BenchTimeoutError(msg)
            connector.check_alive()
            time.sleep(SAMPLE_INTERVAL)
    finally:
        if connector is not None:
            connector.stop()
        crm.stop()
