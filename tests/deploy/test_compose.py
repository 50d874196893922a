"""deploy/docker-compose.yml: a valid Compose file whose parts fit together.

`docker compose config` needs the Compose plugin, which this machine's docker client lacks;
the file is checked against the Compose Specification's JSON schema instead
(compose-spec.json beside this file: schema/compose-spec.json of the Compose Specification
project, Apache-2.0), and with `docker compose config` where the plugin exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.monitoring import DEPLOY

COMPOSE_FILE = DEPLOY / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
CONNECTORS = ("crm", "mail", "print", "alerts")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Repository paths (relative to deploy/) a service mounts, and where."""
    pairs = (volume.split(":")[:2] for volume in service.get("volumes", []))
    return {source: target for source, target in pairs if source.startswith(".")}


def compose_plugin_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


def test_the_file_follows_the_compose_specification() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a dev dependency")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))

    errors = [
        f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose())
    ]

    assert not errors, errors


@pytest.mark.skipif(not compose_plugin_works(), reason="the docker compose plugin is not installed")
def test_docker_compose_accepts_the_file_with_every_profile() -> None:
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), "--profile", "demo"]
    checked = subprocess.run(
        [*command, "--profile", "registry", "config", "-q"], capture_output=True, text=True
    )

    assert checked.returncode == 0, checked.stderr


def test_kafka_runs_in_kraft_mode_and_keeps_its_log_on_the_volume() -> None:
    kafka = services()["kafka"]
    environment = kafka["environment"]

    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("zookeeper" in name for name in services())
    assert f"kafka-data:{environment['KAFKA_LOG_DIRS']}" in kafka["volumes"]


def test_workers_scale_without_sharing_rocksdb_or_host_ports() -> None:
    worker = services()["worker"]
    data_dir = worker["environment"]["JOURNEYHUB_DATA_DIR"]

    assert worker["environment"]["JOURNEYHUB_STATE"] == "rocksdb"
    assert worker["volumes"] == [data_dir], "one anonymous volume a replica, nothing named"
    assert "container_name" not in worker
    assert worker["deploy"]["replicas"] >= 2
    published = [port.split(":")[-2] for port in worker["ports"]]
    assert all("-" in port for port in published), "a range of host ports, one a replica"


def test_prometheus_scrapes_every_worker_replica_and_every_connector() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    worker_sd = jobs["journeyhub-worker"]["dns_sd_configs"][0]
    assert worker_sd["names"] == ["worker"] and worker_sd["port"] == 6066
    targets = jobs["journeyhub-connectors"]["static_configs"][0]["targets"]
    for name in CONNECTORS:
        connector = services()[f"connect-{name}"]
        assert connector["command"] == ["connect", name]
        port = connector["environment"]["JOURNEYHUB_METRICS_PORT"]
        assert f"connect-{name}:{port}" in targets


def test_demo_targets_and_the_schema_registry_are_optional_profiles() -> None:
    profiles = {name: service.get("profiles", []) for name, service in services().items()}

    assert profiles["schema-registry"] == ["registry"]
    assert profiles["sandbox-crm"] == profiles["smtp"] == profiles["devices"] == ["demo"]
    core = ["kafka", "worker", "prometheus", "grafana", *(f"connect-{c}" for c in CONNECTORS)]
    assert all(profiles[name] == [] for name in core)


def test_the_crm_connector_points_at_the_sandbox_crm_of_the_demo() -> None:
    sandbox = services()["sandbox-crm"]
    port = sandbox["command"][sandbox["command"].index("--port") + 1]

    crm_url = services()["connect-crm"]["environment"]["CRM_URL"]

    assert crm_url == f"${{CRM_URL:-http://sandbox-crm:{port}}}"


def test_grafana_gets_the_provisioning_and_the_dashboards_it_points_at() -> None:
    mounts = bind_mounts(services()["grafana"])
    provisioning = DEPLOY / "grafana" / "provisioning" / "dashboards" / "journeyhub.yml"
    provider = yaml.safe_load(provisioning.read_text())["providers"][0]

    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert all((DEPLOY / source).is_dir() for source in mounts)


def test_prometheus_gets_its_config_and_the_alert_rules() -> None:
    prometheus = services()["prometheus"]
    config_dir = bind_mounts(prometheus)["./prometheus"]

    assert f"--config.file={config_dir}/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert all((DEPLOY / "prometheus" / rules).is_file() for rules in config["rule_files"])
