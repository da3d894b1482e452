import pytest

from bot.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "LICENSESPRING_", "ALLOWED_", "LOG_")) or name in {
            "DATABASE_URL",
            "DEFAULT_PRODUCT",
            "PORT",
            "ALERT_POLL_INTERVAL",
            "ESCALATION_CHANNEL_ID",
            "LOOKUP_DEADLINE",
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]


def test_defaults_need_no_environment() -> None:
    settings = load_settings()
    assert settings.licensespring_api_url == "https://api.licensespring.com"
    assert settings.licensespring_cache_ttl == 30
    assert not settings.has_licensespring_credentials
    assert not settings.has_slack_credentials


def test_public_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-abc",
        "SLACK_SIGNING_SECRET": "sig",
        "SLACK_APP_TOKEN": "xapp-abc",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "LICENSESPRING_API_URL": "http://127.0.0.1:8181",
        "LICENSESPRING_API_KEY": "k",
        "LICENSESPRING_SHARED_KEY": "s",
        "LICENSESPRING_CLIENT_ID": "cid",
        "LICENSESPRING_CLIENT_SECRET": "csecret",
        "LICENSESPRING_OAUTH_URL": "http://127.0.0.1:8181/oauth/token",
        "LICENSESPRING_PRODUCTS": " acme-desktop, acme-cli ,",
        "DEFAULT_PRODUCT": "acme-desktop",
        "LICENSESPRING_CACHE_TTL": "0",
        "DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "ALERT_POLL_INTERVAL": "60",
        "ALLOWED_USER_IDS": "U1,U2",
        "ALLOWED_USERGROUP_IDS": "S1",
        "ALLOWED_CHANNEL_IDS": "C1",
        "ESCALATION_CHANNEL_ID": "C9",
        "LOG_FORMAT": "JSON",
        "LOG_LEVEL": "debug",
        "PORT": "8080",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.licensespring_products == ["acme-desktop", "acme-cli"]
    assert settings.allowed_user_ids == ["U1", "U2"]
    assert settings.licensespring_cache_ttl == 0
    assert settings.log_format == "json"
    assert settings.log_level == "DEBUG"
    assert settings.port == 8080
    assert settings.has_hmac_credentials and settings.has_oauth_credentials
    assert settings.slack_bot_token is not None
    assert "xoxb-abc" not in repr(settings)
    assert "csecret" not in str(settings)
    assert sorted(settings.secret_values()) == sorted(
        ["xoxb-abc", "sig", "xapp-abc", "k", "s", "csecret"]
    )


def test_dotenv_file_is_read(tmp_path: object) -> None:
    from pathlib import Path

    Path(".env").write_text("DEFAULT_PRODUCT=from-dotenv\nLICENSESPRING_CACHE_TTL=5\n")
    settings = load_settings()
    assert settings.default_product == "from-dotenv"
    assert settings.licensespring_cache_ttl == 5


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "LICENSESPRING_CACHE_TTL",
            "soon",
            "LICENSESPRING_CACHE_TTL: a number of seconds, at least 0 (got 'soon')",
        ),
        ("LICENSESPRING_CACHE_TTL", "-1", "LICENSESPRING_CACHE_TTL"),
        ("PORT", "http", "PORT: a whole number"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("LICENSESPRING_API_URL", "api.licensespring.com", "LICENSESPRING_API_URL"),
        ("ALERT_POLL_INTERVAL", "0", "ALERT_POLL_INTERVAL: a whole number of seconds, at least 1"),
        (
            "ALERT_POLL_INTERVAL",
            "soon",
            "ALERT_POLL_INTERVAL: a whole number of seconds, at least 1 (got 'soon')",
        ),
        ("LICENSESPRING_RATE_LIMIT", "60", "at most 45 (LicenseSpring refuses more than 50"),
        ("LOOKUP_DEADLINE", "0", "LOOKUP_DEADLINE: seconds, a number greater than 0 (got '0')"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL: unsupported scheme 'mysql'"),
    ],
)
def test_malformed_setting_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("configuration error: ")
    assert expected in message
    assert "\n" not in message


def test_blank_secret_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENSESPRING_API_KEY", "  ")
    assert Settings().licensespring_api_key is None


@pytest.mark.parametrize("value", ["1", "5", "59", "86400"])
def test_any_whole_number_of_seconds_from_one_is_a_poll_interval(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ALERT_POLL_INTERVAL", value)
    assert load_settings().alert_poll_interval == int(value)


def test_retries_have_no_upper_bound_and_the_lookup_deadline_defaults_to_12_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LICENSESPRING_MAX_RETRIES", "25")
    settings = load_settings()
    assert settings.licensespring_max_retries == 25
    assert settings.lookup_deadline == 12


def test_an_invalid_setting_the_caller_does_not_use_warns_and_takes_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERT_POLL_INTERVAL", "soon")
    monkeypatch.setenv("PORT", "http")
    settings = load_settings(unused=frozenset({"alert_poll_interval", "port"}))
    assert settings.alert_poll_interval == 900
    assert settings.port == 3000
    assert settings.ignored == [
        "ALERT_POLL_INTERVAL: a whole number of seconds, at least 1 (got 'soon')",
        "PORT: a whole number from 1 to 65535 (got 'http')",
    ]
    # A setting the caller uses still stops it, and the message names that one.
    monkeypatch.setenv("LICENSESPRING_CACHE_TTL", "-1")
    with pytest.raises(ConfigError, match="LICENSESPRING_CACHE_TTL: a number of seconds"):
        load_settings(unused=frozenset({"alert_poll_interval", "port"}))


def test_every_bounded_setting_is_described_and_in_the_readme() -> None:
    from pathlib import Path

    from bot.config import RULES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        bounded = any(
            getattr(item, attr, None) is not None
            for item in field.metadata
            for attr in ("gt", "ge", "lt", "le")
        )
        if bounded:
            assert name in RULES, f"{name} has a bound but no plain-words rule"
    for name, rule in RULES.items():
        row = next(
            (line for line in readme.splitlines() if line.startswith(f"| `{name.upper()}`")), ""
        )
        assert row, f"{name.upper()} is not in the README's configuration table"
        assert rule.split(" (")[0] in row, f"the README row of {name.upper()} lacks: {rule}"
