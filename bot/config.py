"""Settings: the only reader of the environment (and of `.env`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_LICENSESPRING_API_URL = "https://api.licensespring.com"
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
    licensespring_cache_ttl: float = Field(default=30.0, ge=0)
    licensespring_connect_timeout: float = Field(default=5.0, gt=0)
    licensespring_read_timeout: float = Field(default=10.0, gt=0)
    licensespring_max_retries: int = Field(default=2, ge=0, le=10)
    # LicenseSpring's flood limit is 50/s per credential; bursts ride on top of the rate.
    licensespring_rate_limit: float = Field(default=20.0, gt=0, le=45)
    # Webhooks (Enterprise plan): the endpoint exists only when the secret is set.
    licensespring_webhook_secret: SecretStr | None = None
    licensespring_webhook_signature_header: str = "LicenseSpring-Signature"

    # Store, alerts, access
    database_url: str = "sqlite+aiosqlite:///license-users-bot.db"
    alert_poll_interval: int = Field(default=900, ge=10)
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
        "default_product",
        "escalation_channel_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("licensespring_api_url", "licensespring_oauth_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        from bot.store.urls import async_database_url

        try:
            async_database_url(value)
        except ValueError as error:
            # The store's message starts with the variable's name; the caller adds it again.
            raise ValueError(str(error).removeprefix("DATABASE_URL: ")) from None
        return value

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
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


_EXPECTATIONS: dict[str, str] = {
    "float_parsing": "a number",
    "int_parsing": "a whole number",
}


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first bad variable and what it should be."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    message = str(first.get("msg", "a valid value")).removeprefix("Value error, ")
    expected = _EXPECTATIONS.get(first.get("type", ""), message)
    got = first.get("input")
    sensitive = any(word in field for word in ("secret", "key", "token", "url"))
    shown = "" if got is None or isinstance(got, dict) or sensitive else f" (got {str(got)[:40]!r})"
    return f"configuration error: {field.upper()}: {expected}{shown}"


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment and `.env`; raise ConfigError with one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
