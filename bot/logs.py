"""structlog set-up: JSON or console output, with secrets and passwords redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"(password|secret|token|authorization|shared_key|api_key|apikey|signature|cookie)",
    re.IGNORECASE,
)
# Authorization header values and Slack tokens, wherever they show up in text.
_SENSITIVE_TEXT = re.compile(
    r"(Bearer\s+[A-Za-z0-9._~+/=-]+|signature=\"[^\"]*\"|xox[abposr]-[A-Za-z0-9-]+|"
    r"xapp-[A-Za-z0-9-]+|\"initial_password\"\s*:\s*\"[^\"]*\")"
)


class Redactor:
    """A structlog processor: no secret value, token or password survives into a log line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {key: self._clean(key, value) for key, value in event_dict.items()}

    def _clean(self, key: str, value: Any) -> Any:
        if _SENSITIVE_KEY.search(key) and key != "is_initial_password":
            return REDACTED
        if isinstance(value, str):
            return self._clean_text(value)
        if isinstance(value, Mapping):
            return {str(k): self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self._clean("", item) for item in value]
        return value

    def _clean_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SENSITIVE_TEXT.sub(REDACTED, text)


def configure_logging(
    *,
    log_format: str = "console",
    level: str = "INFO",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and the stdlib loggers of our libraries) once, at the edge."""
    stream = stream or sys.stderr
    redactor = Redactor(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redactor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Library loggers (slack_bolt, uvicorn, httpx) go through the same redaction and format.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redactor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncio", "sqlalchemy", "hpack"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
