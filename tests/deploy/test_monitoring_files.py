"""The dashboards and alert rules as files: well-formed, wired to the provisioned Prometheus."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.deploy.monitoring import (
    ALERT_RULES,
    DATASOURCES,
    DEPLOY,
    alert_rules,
    dashboards,
    metric_names,
    panels,
    signal,
    to_promql,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make system-packages` installs Debian's prometheus"
)


def provisioned_datasource_uids() -> set[str]:
    uids = set()
    for path in DATASOURCES.glob("*.yml"):
        uids |= {source["uid"] for source in yaml.safe_load(path.read_text())["datasources"]}
    return uids


def test_signal_keeps_every_series_however_it_compares() -> None:
    assert signal("max by (campaign_id) (ratio) > 1") == "max by (campaign_id) (ratio) > bool 1"
    assert signal('up{job!="x"} == 0') == 'up{job!="x"} == bool 0'
    assert signal("sum (\n  failures\n) >= 3\n") == "sum (\n  failures\n) >= bool 3"


def test_signal_refuses_an_expression_without_a_final_comparison() -> None:
    with pytest.raises(ValueError, match="does not end in a comparison"):
        signal("sum(rate(x[5m]))")


def test_grafana_macros_and_the_all_value_of_variables_become_plain_promql() -> None:
    dashboard = {"templating": {"list": [{"name": "campaign", "allValue": ".*"}]}}

    promql = to_promql('rate(x{campaign_id=~"$campaign"}[$__rate_interval])[$__range]', dashboard)

    assert promql == 'rate(x{campaign_id=~".*"}[1m])[1h]'


def test_metric_names_are_found_but_not_functions_or_labels() -> None:
    expr = 'sum by (le) (rate(journeyhub_a_bucket[1m])) or up{job="w"} * journeyhub_worker_up'

    assert metric_names(expr) == {"journeyhub_a_bucket", "up", "journeyhub_worker_up"}


def test_there_is_a_dashboard_for_each_area_with_its_own_uid() -> None:
    boards = dashboards()

    assert set(boards) == {
        "pipeline-health.json",
        "connectors-devices.json",
        "customer360-leads.json",
        "marketing-budget.json",
    }
    assert len({board["uid"] for board in boards.values()}) == len(boards)


def test_every_panel_reads_the_provisioned_prometheus_and_shows_a_query() -> None:
    uids = provisioned_datasource_uids()
    for name, board in dashboards().items():
        ids = [panel["id"] for panel in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            where = f"{name}: {panel['title']}"
            assert panel["datasource"]["uid"] in uids, where
            assert panel["targets"], f"{where} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids, where
                assert target["expr"].strip(), f"{where} [{target['refId']}] is empty"
            position = panel["gridPos"]
            assert position["x"] + position["w"] <= 24, f"{where} is wider than the dashboard"


def test_every_alert_ends_in_a_comparison_and_tells_what_to_do() -> None:
    rules = alert_rules()

    assert {rule["alert"] for rule in rules} >= {
        "JourneyhubWorkerDown",
        "JourneyhubWorkerNotReady",
        "JourneyhubConnectorLagHigh",
        "JourneyhubWorkerDeadLetters",
        "JourneyhubConnectorDeadLetters",
        "JourneyhubDeviceStepFailures",
        "JourneyhubBudgetExceeded",
    }
    for rule in rules:
        signal(rule["expr"])
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    checked = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(ALERT_RULES)], capture_output=True, text=True
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


@needs_promtool
def test_promtool_accepts_the_prometheus_config_of_the_compose_stack() -> None:
    config = DEPLOY / "prometheus" / "prometheus.yml"

    checked = subprocess.run(
        [str(PROMTOOL), "check", "config", str(config)], capture_output=True, text=True
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
