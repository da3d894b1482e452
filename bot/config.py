"""Settings: the only reader of the environment (and of `.env`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.database_url import async_database_url

DEFAULT_LICENSESPRING_API_URL = "https://api.licensespring.com"
DEFAULT_MANAGEMENT_API_URL = "https://saas.licensespring.com"
DEFAULT_OAUTH_URL = (
    "https://auth.licensespring.com/realms/user-portal/protocol/openid-connect/token"
)

CommaList = Annotated[list[str], NoDecode]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    # LicenseSpring License API
    licensespring_api_url: str = DEFAULT_LICENSESPRING_API_URL
    licensespring_api_key: SecretStr | None = None
    licensespring_shared_key: SecretStr | None = None
    licensespring_client_id: str | None = None
    licensespring_client_secret: SecretStr | None = None
    licensespring_oauth_url: str = DEFAULT_OAUTH_URL
    licensespring_products: CommaList = Field(default_factory=list)
    default_product: str | None = None
    # Bounds exist only where a value outside them is unsafe or meaningless (see RULES).
    licensespring_cache_ttl: float = Field(default=30.0, ge=0)
    # Bound on the answer cache's estimated memory, beside its entry count.
    licensespring_cache_max_mb: float = Field(default=64.0, ge=0)
    licensespring_connect_timeout: float = Field(default=5.0, gt=0)
    licensespring_read_timeout: float = Field(default=10.0, gt=0)
    licensespring_max_retries: int = Field(default=2, ge=0)
    # LicenseSpring's flood limit is 50/s per credential; bursts ride on top of the rate.
    licensespring_rate_limit: float = Field(default=20.0, gt=0, le=45)
    # One deadline for an interactive lookup, retries included.
    lookup_deadline: float = Field(default=12.0, gt=0)
    # Webhooks (Enterprise plan): the endpoint exists only when the secret is set.
    licensespring_webhook_secret: SecretStr | None = None
    licensespring_webhook_signature_header: str = "LicenseSpring-Signature"
    # Management API (optional): finds a customer from a license user's e-mail, counts seats.
    licensespring_management_api_url: str = DEFAULT_MANAGEMENT_API_URL
    licensespring_management_api_key: SecretStr | None = None

    # Store, alerts, access
    database_url: str = "sqlite+aiosqlite:///license-users-bot.db"
    alert_poll_interval: int = Field(default=900, ge=1)
    # After a webhook-woken check, further webhooks for that watch wait this long (0: not at all).
    alert_coalesce_seconds: float = Field(default=10.0, ge=0)
    # Retention, purged by the worker: the audit log holds customer e-mails (privacy).
    audit_retention_days: int = Field(default=365, ge=1)
    alert_history_days: int = Field(default=90, ge=1)
    allowed_user_ids: CommaList = Field(default_factory=list)
    allowed_usergroup_ids: CommaList = Field(default_factory=list)
    allowed_channel_ids: CommaList = Field(default_factory=list)
    escalation_channel_id: str | None = None

    # Operations
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator(
        "licensespring_products",
        "allowed_user_ids",
        "allowed_usergroup_ids",
        "allowed_channel_ids",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "licensespring_api_key",
        "licensespring_shared_key",
        "licensespring_client_id",
        "licensespring_client_secret",
        "licensespring_webhook_secret",
        "licensespring_management_api_key",
        "default_product",
        "escalation_channel_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator(
        "licensespring_api_url",
        "licensespring_oauth_url",
        "slack_api_url",
        "licensespring_management_api_url",
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            async_database_url(value)
        except ValueError as error:
            # The store's message starts with the variable's name; the caller adds it again.
            raise ValueError(str(error).removeprefix("DATABASE_URL: ")) from None
        return value

    _ignored: list[str] = PrivateAttr(default_factory=list)

    @property
    def ignored(self) -> list[str]:
        """Warnings for invalid settings the command does not use (set by `load_settings`)."""
        return self._ignored

    @property
    def has_hmac_credentials(self) -> bool:
        return self.licensespring_api_key is not None and self.licensespring_shared_key is not None

    @property
    def has_oauth_credentials(self) -> bool:
        return (
            self.licensespring_client_id is not None
            and self.licensespring_client_secret is not None
        )

    @property
    def has_licensespring_credentials(self) -> bool:
        return self.has_hmac_credentials or self.has_oauth_credentials

    @property
    def has_management_key(self) -> bool:
        return self.licensespring_management_api_key is not None

    @property
    def has_slack_credentials(self) -> bool:
        return self.slack_bot_token is not None

    def secret_values(self) -> list[str]:
        """Every configured secret in clear, for log redaction and leak checks."""
        secrets = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.licensespring_api_key,
            self.licensespring_shared_key,
            self.licensespring_client_secret,
            self.licensespring_webhook_secret,
            self.licensespring_management_api_key,
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


RULES: dict[str, str] = {
    "licensespring_cache_ttl": "a number of seconds, at least 0",
    "licensespring_connect_timeout": "seconds, a number greater than 0",
    "licensespring_read_timeout": "seconds, a number greater than 0",
    "licensespring_max_retries": "a whole number, at least 0",
    "licensespring_rate_limit": (
        "requests per second, a number greater than 0 and at most 45 "
        "(LicenseSpring refuses more than 50 a second per credential)"
    ),
    "lookup_deadline": "seconds, a number greater than 0",
    "alert_poll_interval": "a whole number of seconds, at least 1",
    "alert_coalesce_seconds": "a number of seconds, 0 or more",
    "licensespring_cache_max_mb": "megabytes, 0 or more",
    "audit_retention_days": "a whole number of days, at least 1",
    "alert_history_days": "a whole number of days, at least 1",
    "port": "a whole number from 1 to 65535",
    "log_format": "console or json",
    "log_level": "DEBUG, INFO, WARNING, ERROR or CRITICAL",
    "licensespring_api_url": "an http:// or https:// URL",
    "licensespring_oauth_url": "an http:// or https:// URL",
    "slack_api_url": "an http:// or https:// URL",
    "licensespring_management_api_url": "an http:// or https:// URL",
}
"""What each bounded or typed setting accepts, in plain words (errors and the README)."""

_EXPECTATIONS: dict[str, str] = {
    "float_parsing": "a number",
    "int_parsing": "a whole number",
}


def _bad_fields(error: ValidationError) -> list[str]:
    return [str(item["loc"][0]) for item in error.errors() if item["loc"]]


def describe_validation_error(error: ValidationError, index: int = 0) -> str:
    """One line naming a bad variable, the value, and what it accepts."""
    item = error.errors()[index]
    field = str(item["loc"][0]) if item["loc"] else "settings"
    message = str(item.get("msg", "a valid value")).removeprefix("Value error, ")
    expected = RULES.get(field) or _EXPECTATIONS.get(item.get("type", ""), message)
    got = item.get("input")
    sensitive = any(word in field for word in ("secret", "key", "token", "url"))
    shown = "" if got is None or isinstance(got, dict) or sensitive else f" (got {str(got)[:40]!r})"
    return f"{field.upper()}: {expected}{shown}"


def load_settings(*, unused: frozenset[str] = frozenset(), **overrides: Any) -> Settings:
    """Build Settings from the environment and `.env`; raise ConfigError with one line.

    `unused` names the settings the caller does not use: an invalid value of one of those
    does not stop it; it gets the default and a warning in `Settings.ignored`.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        bad = _bad_fields(exc)
        if not bad or not set(bad) <= unused:
            first = next((i for i, f in enumerate(bad) if f not in unused), 0)
            raise ConfigError(
                f"configuration error: {describe_validation_error(exc, first)}"
            ) from None
        warnings = [describe_validation_error(exc, i) for i in range(len(bad))]
    defaults = {
        name: Settings.model_fields[name].get_default(call_default_factory=True) for name in bad
    }
    settings = Settings(**{**overrides, **defaults})
    settings._ignored = warnings
    return settings
