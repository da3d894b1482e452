"""The command line as a user runs it: real subprocesses against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.demo.fake_slack import FakeSlack
from bot.demo.servers import free_port
from bot.demo.slack_requests import SIGNING_SECRET, post_signed_sync, slash_command_body
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.support.leaks import scan_process_output


def run_bot(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path,
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSESPRING_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin if stdin is not None else "",
        check=False,
    )
    scan_process_output(f"python -m bot {' '.join(args)}", result.stdout, result.stderr)
    return result


@pytest.fixture
def sandbox_env(sandbox_url: str) -> dict[str, str]:
    return {
        "LICENSESPRING_API_URL": sandbox_url,
        "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
        "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
    }


def test_lookup_prints_a_readable_summary(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    result = run_bot("lookup", "acme-desktop", seed.TYPICAL, env=sandbox_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Ada Lovelace - Analytical Engines Ltd" in result.stdout
    assert "Users: 8   active: 6   inactive: 2" in result.stdout
    assert "At activation limit: 1" in result.stdout
    assert "On initial password: 1" in result.stdout
    # Every license user's activations, then the active users' share, labelled.
    assert "Activations: 12/23 (52%) [#####.....]   active users: 11/17 (65%)" in result.stdout
    assert result.stdout.count("license ") == 8


def test_lookup_json_names_both_activation_totals(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    result = run_bot(
        "lookup", "acme-desktop", seed.TYPICAL, "--json", env=sandbox_env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["counts"]
    assert (counts["activations_used"], counts["activations_max"]) == (12, 23)
    assert counts["active_users_activations_used"] == 11
    assert counts["active_users_activations_max"] == 17
    assert counts["users_without_max"] == 0
    assert counts["inactive_on_initial_password"] == 0


def test_lookup_json_has_no_passwords(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    raw = sandbox.body("acme-desktop", seed.INITIAL_PASSWORD)
    assert raw is not None
    passwords = [u["initial_password"] for u in raw["users"] if u["initial_password"]]
    result = run_bot(
        "lookup", "acme-desktop", seed.INITIAL_PASSWORD, "--json", env=sandbox_env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["counts"]["on_initial_password"] == 3
    assert len(data["users"]) == 4
    assert all("initial_password" not in user for user in data["users"])
    for password in passwords:
        assert password not in result.stdout + result.stderr


def test_lookup_plus_address(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    result = run_bot("lookup", "acme-desktop", seed.PLUS, "--json", env=sandbox_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["customer"]["email"] == seed.PLUS


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("lookup", "acme-desktop", "nobody@example.com"), 1, "customer_does_not_exist"),
        (("lookup", "nope", seed.TYPICAL), 1, "unknown_product"),
        (("lookup", "acme-desktop", "not-an-email"), 2, "not an e-mail address"),
    ],
)
def test_lookup_failures_are_one_line(
    sandbox_env: dict[str, str],
    sandbox: SandboxState,
    tmp_path: Path,
    args: tuple[str, ...],
    code: int,
    expected: str,
) -> None:
    result = run_bot(*args, env=sandbox_env, cwd=tmp_path)
    assert result.returncode == code
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_lookup_without_credentials_points_at_the_sandbox(tmp_path: Path) -> None:
    result = run_bot("lookup", "acme-desktop", seed.TYPICAL, cwd=tmp_path)
    assert result.returncode == 2
    assert "no LicenseSpring credentials configured" in result.stderr
    assert "python -m bot sandbox" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_lookup_reads_dotenv(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in sandbox_env.items()))
    result = run_bot("lookup", "acme-desktop", seed.EMPTY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No license users" in result.stdout


@pytest.mark.parametrize(
    ("command", "env", "expected"),
    [
        (
            ("lookup", "acme-desktop", seed.TYPICAL),
            {"LICENSESPRING_CACHE_TTL": "soon"},
            "LICENSESPRING_CACHE_TTL",
        ),
        (("lookup", "acme-desktop", seed.TYPICAL), {"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        # `lookup` does not use PORT (it warns, see below); `serve` does.
        (("serve",), {"PORT": "eighty"}, "PORT: a whole number from 1 to 65535 (got 'eighty')"),
    ],
)
def test_bad_setting_stops_startup_with_one_line(
    tmp_path: Path, command: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    result = run_bot(*command, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: ")
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("serve",), {"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_SIGNING_SECRET is required"),
        (("serve",), {}, "SLACK_BOT_TOKEN is required"),
        (("socket",), {"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_APP_TOKEN is required"),
        ((), {"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_SIGNING_SECRET is required"),
        (
            ("serve",),
            {
                "SLACK_BOT_TOKEN": "xoxb-x",
                "SLACK_SIGNING_SECRET": "s",
                "LICENSESPRING_API_KEY": "k",
                "LICENSESPRING_SHARED_KEY": "k",
                "DATABASE_URL": "postgresql://bot:pw@127.0.0.1:1/nothing",
            },
            "cannot open the store at postgresql://bot:***@127.0.0.1:1/nothing",
        ),
    ],
)
def test_run_modes_fail_fast_on_missing_settings(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    result = run_bot(*args, env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "xoxb-x" not in result.stderr


def test_demo_runs_to_completion_non_interactively(tmp_path: Path) -> None:
    from bot.demo import SAMPLE_COMMANDS

    result = run_bot("demo", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("$ /license-users") >= 5
    assert "Analytical Engines Ltd" in out
    assert "At activation limit" in out
    assert "No customer `nobody@example.com`" in out
    assert "Block Kit Builder" in out
    # Not a terminal: the full URLs, since nothing here can click a hyperlink.
    assert out.count("https://app.slack.com/block-kit-builder#") >= len(SAMPLE_COMMANDS)
    assert "\x1b]8;;" not in out
    # the live alert: a watch, a change in the sandbox, the alert its webhook brought
    assert "watch acme-desktop ada@analytical.example" in out
    assert "Now watching" in out
    assert "1 user reached their activation limit" in out
    assert "live alert part skipped" not in out
    # the Workflow Builder step, run once: its completion with the execution's token
    assert "Workflow Builder runs the step `lookup_license_users`" in out
    assert "-> functions.completeSuccess (the execution's own token" in out
    assert '"at_activation_limit": 2' in out
    assert "workflow step part skipped" not in out
    assert out.index("Workflow Builder runs the step") < out.index("Demo finished")
    assert "Demo finished" in out
    assert "Traceback" not in result.stderr
    # Every figure: the headline over all license users, the active users' share labelled.
    assert "Activations: 12 / 23 (52%)" in out
    assert "Active users: 11 / 17 (65%)" in out


def test_demo_on_a_terminal_prints_short_hyperlinks_and_names_the_file_of_full_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import tempfile

    from bot.config import Settings
    from bot.demo import LINKS_FILE_NAME, run_demo

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = Terminal()
    code = run_demo(
        Settings(_env_file=None),  # type: ignore[call-arg]
        commands=("acme-desktop ada@analytical.example", "acme-desktop nobody@example.com"),
        stdin=io.StringIO(""),
        out=out,
    )
    assert code == 0
    text = out.getvalue()
    links = (tmp_path / LINKS_FILE_NAME).read_text(encoding="utf-8")
    urls = [line for line in links.splitlines() if line.startswith("https://")]
    assert len(urls) == 2
    for url in urls:
        # The hyperlink carries the whole URL; what the terminal shows is a short label.
        assert f"\x1b]8;;{url}\x1b\\Open the same blocks in Block Kit Builder\x1b]8;;\x1b\\" in text
    visible = text
    for url in urls:
        visible = visible.replace(url, "")
    assert max(len(line) for line in visible.splitlines()) < 400  # no 2,000-character URL
    assert f"link 2 in {tmp_path / LINKS_FILE_NAME}" in text


@pytest.mark.parametrize(
    "args",
    [
        ["--webhook-url", "http://127.0.0.1:1/hooks"],
        ["--webhook-secret", "s"],
        ["--webhook-url", "ftp://x", "--webhook-secret", "s"],
    ],
)
def test_sandbox_webhook_flags_are_checked(args: list[str], tmp_path: Path) -> None:
    result = run_bot("sandbox", "--port", "0", *args, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("sandbox: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_arguments_and_no_credentials_runs_the_demo(tmp_path: Path) -> None:
    result = run_bot(cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Demo finished" in result.stdout


@contextmanager
def serve_process(env: dict[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m bot serve` as a real process, healthy before the block starts."""
    port = free_port()
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSESPRING_"))
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**base_env, "LOG_FORMAT": "json", **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "serve did not become healthy"
            time.sleep(0.05)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def slack_env(fake_slack: FakeSlack, sandbox_env: dict[str, str]) -> dict[str, str]:
    return {
        **sandbox_env,
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }


def stop(process: subprocess.Popen[str]) -> list[dict[str, object]]:
    """SIGTERM, wait, and return the JSON log events the process wrote."""
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    scan_process_output("python -m bot serve", stdout, stderr)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells what stopped it.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_serve_answers_signed_commands_and_stops_cleanly(
    sandbox_env: dict[str, str], sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    with serve_process(slack_env(fake_slack, sandbox_env), tmp_path) as (process, base):
        response_url = fake_slack.new_response_url()
        body = slash_command_body(f"acme-desktop {seed.TYPICAL}", response_url=response_url)
        ack = post_signed_sync(httpx.Client(), f"{base}/slack/events", body)
        assert ack.status_code == 200
        rid = response_url.rsplit("/", 1)[1]
        answer = fake_slack.wait_for_responses(1, response_id=rid, timeout=10)[-1].body
        assert "8 users" in answer["text"]
        events = stop(process)
    names = [e.get("event") for e in events]
    assert "lookup" in names
    assert "stopped" in names
    dumped = json.dumps(events)
    assert fake_slack.bot_token not in dumped
    assert SIGNING_SECRET not in dumped


def test_sigterm_with_lookups_in_flight_still_delivers_replies(
    sandbox_env: dict[str, str], sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    sandbox.set_fault(latency_ms=1500)
    with serve_process(slack_env(fake_slack, sandbox_env), tmp_path) as (process, base):
        urls = []
        with httpx.Client() as http:
            for email in (seed.TYPICAL, seed.AT_LIMIT, seed.EMPTY):
                response_url = fake_slack.new_response_url()
                body = slash_command_body(f"acme-desktop {email}", response_url=response_url)
                assert post_signed_sync(http, f"{base}/slack/events", body).status_code == 200
                urls.append(response_url.rsplit("/", 1)[1])
        started = time.monotonic()
        events = stop(process)  # while the three lookups wait on the License API
        elapsed = time.monotonic() - started
    for rid in urls:
        assert fake_slack.responses(rid), f"an in-flight reply was lost at shutdown: {events}"
    assert "users" in fake_slack.responses(urls[0])[-1].body["text"]
    assert elapsed < 15
    names = [e.get("event") for e in events]
    assert "draining" in names
    assert "drain_timeout" not in names
    assert names.index("draining") < names.index("stopped")


@pytest.mark.parametrize("interval", ["1", "soon"])
def test_alert_poll_interval_never_stops_a_lookup(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path, interval: str
) -> None:
    env = {**sandbox_env, "ALERT_POLL_INTERVAL": interval}
    result = run_bot("lookup", "acme-desktop", seed.TYPICAL, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Users: 8" in result.stdout
    if interval == "soon":
        assert result.stderr.strip() == (
            "configuration warning: ALERT_POLL_INTERVAL: a whole number of seconds, at least 1 "
            "(got 'soon'); `lookup` does not use it"
        )
    else:
        assert "configuration" not in result.stderr


def test_the_worker_refuses_a_malformed_interval_with_its_range(tmp_path: Path) -> None:
    result = run_bot("worker", env={"ALERT_POLL_INTERVAL": "soon"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: ALERT_POLL_INTERVAL: a whole number of seconds, at least 1 "
        "(got 'soon')"
    )
