import json
import uuid

import pytest
from click.testing import CliRunner

from streams.cli import cli
from tests.clitools import run_cli


def budget_plan(campaign_id: str, planned: str = "10000.00") -> dict[str, object]:
    return {
        "campaign_id": campaign_id,
        "name": "SEA Q3",
        "channel": "sea",
        "owner_email": "lea.controlling@example.com",
        "start_date": "2026-07-01",
        "end_date": "2026-09-30",
        "planned_amount": planned,
        "currency": "EUR",
        "alert_threshold_pct": 80,
    }


def as_lines(*records: dict[str, object]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


COMMANDS = [
    ["up"],
    ["demo"],
    ["produce"],
    ["tail"],
    ["topics"],
    ["lag"],
    ["dlq"],
    ["dlq", "list"],
    ["dlq", "replay"],
    ["worker"],
    ["connect"],
    ["sandbox-crm"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_explains_itself_with_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_produced_lines_come_back_from_tail_as_json(test_env: dict[str, str]) -> None:
    ids = [f"cmp-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    produced = run_cli(
        test_env,
        "produce",
        "marketing.budget.plans",
        "-",
        stdin=as_lines(*(budget_plan(i) for i in ids)),
    )
    assert produced.code == 0, produced.stderr
    assert "produced 3 records" in produced.stderr

    tailed = run_cli(
        test_env, "tail", "marketing.budget.plans", "--from-beginning", "--json", "--timeout", "3"
    )
    assert tailed.code == 0, tailed.stderr
    mine = [m for m in tailed.json_lines() if m["key"] in ids]
    assert sorted(m["key"] for m in mine) == sorted(ids)
    first = mine[0]
    assert set(first) == {"topic", "partition", "offset", "key", "value", "headers"}
    assert first["topic"] == "marketing.budget.plans"
    assert first["value"]["planned_amount"] == "10000.00"
    assert first["value"]["start_date"] == "2026-07-01"


def test_tail_stops_after_max_messages(test_env: dict[str, str]) -> None:
    ids = [f"cmp-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    run_cli(test_env, "produce", "marketing.budget.plans", stdin=as_lines(*map(budget_plan, ids)))
    tailed = run_cli(
        test_env, "tail", "marketing.budget.plans", "--from-beginning", "--max", "2", "--json"
    )
    assert tailed.code == 0, tailed.stderr
    assert len(tailed.json_lines()) == 2


def test_a_bad_line_sends_nothing_and_names_its_line_number(test_env: dict[str, str]) -> None:
    marker = f"cmp-{uuid.uuid4().hex[:8]}"
    good = budget_plan(marker)
    bad = {**budget_plan(marker + "-bad"), "planned_amount": "12.345"}
    result = run_cli(test_env, "produce", "marketing.budget.plans", stdin=as_lines(good, bad, good))
    assert result.code == 2
    assert "line 2" in result.stderr
    assert "planned_amount" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    tailed = run_cli(
        test_env, "tail", "marketing.budget.plans", "--from-beginning", "--json", "--timeout", "2"
    )
    assert not [m for m in tailed.json_lines() if m["key"].startswith(marker)]


def test_invalid_json_is_reported_with_its_line(test_env: dict[str, str]) -> None:
    result = run_cli(
        test_env,
        "produce",
        "marketing.budget.plans",
        stdin=as_lines(budget_plan("cmp-x")) + "{not json\n",
    )
    assert result.code == 2
    assert "line 2" in result.stderr


def test_an_unknown_topic_is_one_line_on_stderr(test_env: dict[str, str]) -> None:
    result = run_cli(test_env, "produce", "no.such.topic", stdin="{}\n")
    assert result.code != 0
    assert "no.such.topic" in result.stderr
    assert "Traceback" not in result.stderr


def test_topics_lists_the_catalog_with_compaction(test_env: dict[str, str]) -> None:
    run_cli(test_env, "produce", "marketing.budget.plans", stdin=as_lines(budget_plan("cmp-t")))
    result = run_cli(test_env, "topics", "--json")
    assert result.code == 0, result.stderr
    topics = {t["name"]: t for t in json.loads(result.stdout)}
    assert topics["marketing.budget.plans"]["compacted"] is True
    assert topics["marketing.budget.plans"]["messages"] >= 1
    assert topics["dlq.marketing.budget.plans"]["compacted"] is False
    assert topics["marketing.budget.plans"]["partitions"] >= 1


def test_a_missing_broker_is_one_clear_line(test_env: dict[str, str]) -> None:
    env = {k: v for k, v in test_env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["JOURNEYHUB_BROKER_PORT"] = "1"
    result = run_cli(env, "worker", timeout=60)
    assert result.code == 1
    assert "no Kafka broker answers at 127.0.0.1:1" in result.stderr


def test_tail_filters_by_key(test_env: dict[str, str]) -> None:
    ids = [f"cmp-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    run_cli(test_env, "produce", "marketing.budget.plans", stdin=as_lines(*map(budget_plan, ids)))
    tailed = run_cli(
        test_env,
        "tail",
        "marketing.budget.plans",
        "--from-beginning",
        "--json",
        "--key",
        ids[1],
        "--timeout",
        "3",
    )
    assert tailed.code == 0, tailed.stderr
    assert [m["key"] for m in tailed.json_lines()] == [ids[1]]
