"""Operations: /healthz, /readyz, /metrics and `python -m bot --check`."""

from __future__ import annotations

from pathlib import Path

from bot.demo.fake_slack import FakeSlack
from bot.demo.slack_requests import SIGNING_SECRET
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.slack_harness import BotFactory
from tests.test_cli import run_bot


def test_readyz_reflects_the_store(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    ready = bot.http.get(f"{bot.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "store": "sqlite"}
    runtime = bot.server.state.runtime

    async def unreachable() -> bool:
        return False

    runtime.store.ping = unreachable
    assert bot.http.get(f"{bot.url}/readyz").status_code == 503
    assert bot.http.get(f"{bot.url}/healthz").status_code == 200  # alive all the same


def test_metrics_count_lookups_requests_and_upstream(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    _, url = bot.command(f"acme-desktop {seed.TYPICAL}")
    bot.final_response(url)
    _, url = bot.command("acme-desktop nobody@example.com")
    bot.final_response(url)
    text = bot.http.get(f"{bot.url}/metrics").text
    assert 'lookups_total{outcome="ok",surface="command"} 1.0' in text
    assert 'lookups_total{outcome="customer_does_not_exist",surface="command"} 1.0' in text
    assert 'slack_requests_total{kind="command",status="200"} 2.0' in text
    assert "licensespring_upstream_seconds_count 1.0" in text
    assert "licensespring_requests_total 2.0" in text
    assert 'licensespring_errors_total{code="customer_does_not_exist"} 1.0' in text
    assert 'alerts{status="sent"} 0.0' in text
    assert "licensespring_rate_limit_waits_total" in text


def env_for(
    sandbox_url: str, fake_slack: FakeSlack, tmp_path: Path, **extra: str
) -> dict[str, str]:
    return {
        "LICENSESPRING_API_URL": sandbox_url,
        "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
        "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
        "DEFAULT_PRODUCT": "acme-desktop",
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}",
        **extra,
    }


def test_check_reports_everything_reachable(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    result = run_bot("--check", env=env_for(sandbox_url, fake_slack, tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[ok  ] settings: valid; `python -m bot` would run HTTP mode")
    assert any(line.startswith("[ok  ] store: sqlite") for line in lines)
    assert any(line.startswith("[ok  ] slack: bot user UBOT") for line in lines)
    assert any(line.startswith("[ok  ] licensespring: credentials accepted") for line in lines)
    assert any(
        line.startswith("[--  ] webhooks: LICENSESPRING_WEBHOOK_SECRET not set") for line in lines
    )
    assert lines[-1] == "all checks passed"
    assert fake_slack.bot_token not in result.stdout


def test_check_reports_webhooks_configured_without_showing_the_secret(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = env_for(
        sandbox_url,
        fake_slack,
        tmp_path,
        LICENSESPRING_WEBHOOK_SECRET="whsec_check_secret",
        LICENSESPRING_WEBHOOK_SIGNATURE_HEADER="X-Hook-Signature",
    )
    result = run_bot("--check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok  ] webhooks: POST /licensespring/webhooks verifies the X-Hook-Signature" in (
        result.stdout
    )
    assert "whsec_check_secret" not in result.stdout + result.stderr


def test_check_names_what_is_wrong(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = env_for(
        sandbox_url,
        fake_slack,
        tmp_path,
        LICENSESPRING_SHARED_KEY="wrong",
        SLACK_BOT_TOKEN="xoxb-wrong",
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
    )
    result = run_bot("--check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert "[FAIL] licensespring: signature_mismatch" in out
    assert "[FAIL] slack: auth.test failed: invalid_auth" in out
    assert "[FAIL] store: cannot open postgresql://nobody@127.0.0.1:1/nothing" in out
    assert "wrong" not in out.replace("xoxb-wrong", "")  # the shared key is never printed
    assert "xoxb-wrong" not in out
    assert out.splitlines()[-1] == "some checks failed"
