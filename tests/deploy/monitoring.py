"""The PromQL the deploy files ask of Prometheus: dashboard panels, dashboard variables, alerts.

Grafana expressions carry macros and variables that Prometheus does not know; here they become
plain PromQL, so a test can send every one of them to a real Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"

GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
"""What Grafana puts in for its macros, with a rate window that holds many 1 s scrapes."""

_LABEL_VALUES = re.compile(r"label_values\(\s*(?P<metric>[^,]+?)\s*,\s*(?P<label>\w+)\s*\)")
_LAST_COMPARISON = re.compile(
    r"(?s)^(?P<signal>.+?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<number>-?[\d.]+)$"
)
_METRIC = re.compile(r"\bjourneyhub_[a-z0-9_]+\b|\bup(?=\s*\{)")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from.

    Attributes:
        source: Where the expression is written, e.g. `pipeline-health.json: Events in [A]`.
        expr: The expression as Prometheus reads it.
    """

    source: str
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    """Every provisioned dashboard, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def to_promql(expr: str, dashboard: dict[str, Any]) -> str:
    """An expression of a dashboard with Grafana's macros and the dashboard's variables filled in.

    A variable becomes its "All" value, as on a freshly opened dashboard.
    """
    values = dict(GRAFANA_MACROS)
    for variable in dashboard.get("templating", {}).get("list", []):
        values[f"${variable['name']}"] = variable["allValue"]
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    return expr


def panel_queries() -> list[Query]:
    """The expression of every target of every panel of every dashboard."""
    queries = []
    for file_name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                source = f"{file_name}: {panel['title']} [{target['refId']}]"
                queries.append(Query(source, to_promql(target["expr"], dashboard)))
    return queries


def variable_queries() -> list[Query]:
    """For every `label_values(metric, label)` variable: the series that offer its values."""
    queries = []
    for file_name, dashboard in dashboards().items():
        for variable in dashboard.get("templating", {}).get("list", []):
            found = _LABEL_VALUES.fullmatch(variable["query"]["query"])
            if found is None:
                msg = f"{file_name}: variable {variable['name']} is not label_values(metric, label)"
                raise ValueError(msg)
            expr = f"count by ({found['label']}) ({found['metric']})"
            queries.append(Query(f"{file_name}: variable {variable['name']}", expr))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of deploy/prometheus/alerts.yml."""
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def alert_queries() -> list[Query]:
    """The expression of every alerting rule, as written."""
    return [Query(f"alert {rule['alert']}", rule["expr"].strip()) for rule in alert_rules()]


def signal(expr: str) -> str:
    """The expression with its final comparison made a `bool` one.

    `x > 1` filters out the series of x that are not above 1; `x > bool 1` keeps every series
    of x with the value 1 or 0, so it returns data whenever the signal x exists.

    Raises:
        ValueError: The expression does not end in a comparison with a number.
    """
    found = _LAST_COMPARISON.fullmatch(expr.strip())
    if found is None:
        msg = f"{expr!r} does not end in a comparison with a number"
        raise ValueError(msg)
    return f"{found['signal']} {found['op']} bool {found['number']}"


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: `journeyhub_*` and `up`."""
    return set(_METRIC.findall(expr))
