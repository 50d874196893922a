"""deploy/k8s: manifests that parse, have the expected kinds, and whose references resolve."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.monitoring import ALERT_RULES, DEPLOY

K8S = DEPLOY / "k8s"
CONNECTORS = ("crm", "mail", "print", "alerts")
SCRAPE_JOBS = {"journeyhub-worker", "journeyhub-connectors"}
"""The job labels the alert rules match on."""


def manifests() -> dict[str, list[dict[str, Any]]]:
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def objects(kind: str) -> dict[str, dict[str, Any]]:
    found = [doc for docs in manifests().values() for doc in docs if doc["kind"] == kind]
    return {doc["metadata"]["name"]: doc for doc in found}


def workloads() -> dict[str, dict[str, Any]]:
    return {**objects("StatefulSet"), **objects("Deployment")}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def env(workload: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container(workload).get("env", [])}


def test_every_manifest_parses_with_the_expected_kinds() -> None:
    kinds = {name: sorted({doc["kind"] for doc in docs}) for name, docs in manifests().items()}

    assert kinds == {
        "config.yaml": ["ConfigMap"],
        "connectors.yaml": ["Deployment", "PersistentVolumeClaim", "Service"],
        "namespace.yaml": ["Namespace"],
        "prometheus-rules.yaml": ["ConfigMap"],
        "servicemonitor.yaml": ["ServiceMonitor"],
        "worker.yaml": ["PodDisruptionBudget", "Service", "StatefulSet"],
    }
    assert objects("ServiceMonitor")["journeyhub"]["apiVersion"] == "monitoring.coreos.com/v1"


def test_kustomization_applies_every_manifest_in_one_namespace() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())

    assert sorted(kustomization["resources"]) == sorted(manifests())
    namespaces = {doc["metadata"].get("namespace") for docs in manifests().values() for doc in docs}
    assert namespaces == {None, "journeyhub"}
    assert set(objects("Namespace")) == {"journeyhub"}


def test_workers_are_a_statefulset_with_a_rocksdb_volume_per_replica() -> None:
    worker = objects("StatefulSet")["journeyhub-worker"]
    data_dir = objects("ConfigMap")["journeyhub-env"]["data"]["JOURNEYHUB_DATA_DIR"]
    (claim,) = worker["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container(worker)["volumeMounts"]}

    assert mounts[claim["metadata"]["name"]] == data_dir
    assert env(worker)["JOURNEYHUB_STATE"] == "rocksdb"
    assert container(worker)["args"] == ["worker"]
    assert worker["spec"]["replicas"] >= 2
    headless = objects("Service")[worker["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"


def test_workers_advertise_an_address_the_other_replicas_reach() -> None:
    worker = objects("StatefulSet")["journeyhub-worker"]
    pod_ip = next(item for item in container(worker)["env"] if item["name"] == "POD_IP")

    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env(worker)["JOURNEYHUB_WEB_HOST"] == "$(POD_IP)"


def test_each_connector_is_a_deployment_serving_metrics_on_its_metrics_port() -> None:
    deployments = objects("Deployment")
    for name in CONNECTORS:
        connector = deployments[f"journeyhub-connect-{name}"]
        ports = {port["name"]: port["containerPort"] for port in container(connector)["ports"]}

        assert container(connector)["args"] == ["connect", name]
        assert env(connector)["JOURNEYHUB_METRICS_PORT"] == str(ports["metrics"])


def test_every_mounted_volume_and_claimed_volume_exists() -> None:
    claims = set(objects("PersistentVolumeClaim"))
    for name, workload in workloads().items():
        spec = workload["spec"]
        volumes = {v["name"]: v for v in spec["template"]["spec"].get("volumes", [])}
        templates = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        for mount in container(workload)["volumeMounts"]:
            assert mount["name"] in volumes or mount["name"] in templates, (name, mount)
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name


def test_every_service_selects_the_pods_of_a_workload_and_their_named_port() -> None:
    pods = [
        (w["spec"]["template"]["metadata"]["labels"], {p["name"] for p in container(w)["ports"]})
        for w in workloads().values()
    ]
    for name, service in objects("Service").items():
        selector = service["spec"]["selector"].items()
        matching = [ports for labels, ports in pods if selector <= labels.items()]

        assert matching, f"service {name} selects no pods"
        for port in service["spec"]["ports"]:
            assert all(port["targetPort"] in ports for ports in matching), (name, port)


def test_workloads_select_their_own_pods() -> None:
    for name, workload in workloads().items():
        selector = workload["spec"]["selector"]["matchLabels"].items()

        assert selector <= workload["spec"]["template"]["metadata"]["labels"].items(), name


def test_the_service_monitor_scrapes_the_worker_and_every_connector_as_the_rules_expect() -> None:
    monitor = objects("ServiceMonitor")["journeyhub"]["spec"]
    selector = monitor["selector"]["matchLabels"].items()
    scraped = {
        name: service
        for name, service in objects("Service").items()
        if selector <= service["metadata"]["labels"].items()
    }
    endpoint_ports = {endpoint["port"] for endpoint in monitor["endpoints"]}

    assert set(scraped) == {
        "journeyhub-worker",
        *(f"journeyhub-connect-{name}" for name in CONNECTORS),
    }
    jobs = {service["metadata"]["labels"][monitor["jobLabel"]] for service in scraped.values()}
    assert jobs == SCRAPE_JOBS
    assert all(f'job="{job}"' in ALERT_RULES.read_text() for job in SCRAPE_JOBS)
    for name, service in scraped.items():
        assert endpoint_ports & {port["name"] for port in service["spec"]["ports"]}, name


def test_the_rules_config_map_carries_the_alert_rules_unchanged() -> None:
    rules = objects("ConfigMap")["journeyhub-prometheus-rules"]

    assert rules["data"] == {"alerts.yml": ALERT_RULES.read_text()}
