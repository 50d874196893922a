"""The demo's helpers: a fresh start on the local stack, and what to try on a stack left running."""

from pathlib import Path

import pytest

from connectors.alerting import SENT_STORE_NAME as ALERTS_SENT
from connectors.crm import FINGERPRINTS_NAME
from connectors.device_steps import STORE_NAME as PRINT_STEPS
from connectors.mail import SENT_STORE_NAME as MAIL_SENT
from connectors.sandbox_store import DATABASE_NAME as SANDBOX_CRM
from streams.demo import LOCAL_STORES, clear_earlier_run, exploration_hints
from streams.settings import Settings
from streams.workload import GroundTruth, build_workload


def earlier_run(data_dir: Path) -> list[Path]:
    """What a finished demo leaves: a mail, a letter and every store with its WAL file."""
    files = [data_dir / "mail" / "one.eml", data_dir / "print" / "job-1.pdf"]
    for store in LOCAL_STORES:
        files += [data_dir / store, data_dir / f"{store}-wal"]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"earlier run")
    return files


def test_the_stores_the_demo_clears_are_those_the_connectors_keep() -> None:
    assert set(LOCAL_STORES) == {
        ALERTS_SENT,
        FINGERPRINTS_NAME,
        PRINT_STEPS,
        MAIL_SENT,
        SANDBOX_CRM,
    }


def test_a_demo_on_the_local_stack_starts_from_nothing(tmp_path: Path) -> None:
    files = earlier_run(tmp_path)
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("mine")

    clear_earlier_run(Settings.from_env({"JOURNEYHUB_DATA_DIR": str(tmp_path)}))

    assert not any(path.exists() for path in files)
    assert unrelated.read_text() == "mine"


@pytest.mark.parametrize(
    "target",
    [
        {"SMTP_URL": "smtp://mail.example.com:587"},
        {"CRM_URL": "https://crm.example.com"},
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092"},
    ],
)
def test_with_a_real_target_the_demo_keeps_what_guards_it_against_a_second_send(
    tmp_path: Path, target: dict[str, str]
) -> None:
    files = earlier_run(tmp_path)

    clear_earlier_run(Settings.from_env({"JOURNEYHUB_DATA_DIR": str(tmp_path), **target}))

    assert all(path.exists() for path in files)


def test_the_hints_of_a_demo_left_running_name_a_customer_when_there_is_one() -> None:
    settings = Settings.from_env({})
    _, truth = build_workload(customers=30, seed=7)
    email = min(truth.customer_records)

    hints = "\n".join(exploration_hints(settings, truth))
    without_customers = "\n".join(exploration_hints(settings, GroundTruth()))

    assert f"customers?email={email}" in hints
    assert "customers?phone=0171%20" in hints
    assert "/campaigns/" in without_customers
    assert "customers?" not in without_customers
