from streams.settings import Settings
from streams.stack import LOCAL_RESPONSIBLE, endpoint_lines, stack_parts


def connector_envs(settings: Settings) -> dict[str, dict[str, str]]:
    parts = stack_parts(settings)
    return {part.name: dict(part.env) for part in parts if part.name.startswith("connect-")}


def test_the_local_stack_names_someone_for_device_alerts_when_nobody_is_configured() -> None:
    settings = Settings.from_env({})
    envs = connector_envs(settings)
    assert set(envs) == {"connect-crm", "connect-mail", "connect-print", "connect-alerts"}
    assert all(env["JOURNEYHUB_RESPONSIBLE"] == LOCAL_RESPONSIBLE for env in envs.values())
    assert f"alerts      mailed to {LOCAL_RESPONSIBLE} (set JOURNEYHUB_RESPONSIBLE)" in (
        endpoint_lines(settings)
    )


def test_a_configured_responsible_or_a_real_mail_server_gets_no_made_up_address() -> None:
    configured = Settings.from_env({"JOURNEYHUB_RESPONSIBLE": "ops@example.com"})
    real_mail = Settings.from_env({"SMTP_URL": "smtp://mail.example.com:587"})
    for settings in (configured, real_mail):
        envs = connector_envs(settings)
        assert envs and all("JOURNEYHUB_RESPONSIBLE" not in env for env in envs.values())
        assert not any(line.startswith("alerts ") for line in endpoint_lines(settings))
