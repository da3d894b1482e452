import io
import json
import logging

import structlog

from bot.logs import REDACTED, Redactor, configure_logging


def test_redactor_hides_sensitive_keys_values_and_patterns() -> None:
    redact = Redactor(["shared-key-value"])
    event = redact(
        None,
        "info",
        {
            "event": "x",
            "authorization": 'algorithm="hmac-sha256",signature="abc"',
            "headers": {"Authorization": "Bearer tok", "Accept": "application/json"},
            "initial_password": "pw1",
            "is_initial_password": True,
            "note": "key shared-key-value leaked, slack xoxb-1234-abcd, Bearer eyJhbGciOi",
            "body": '{"initial_password": "pw2"}',
            "items": [{"password": "pw3"}],
        },
    )
    assert event["authorization"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert event["initial_password"] == REDACTED
    assert event["is_initial_password"] is True
    dumped = json.dumps(event)
    for secret in ("shared-key-value", "xoxb-1234", "eyJhbGciOi", "pw1", "pw2", "pw3", "abc"):
        assert secret not in dumped


def test_json_logs_are_redacted_including_stdlib_loggers() -> None:
    stream = io.StringIO()
    configure_logging(log_format="json", level="INFO", secrets=["s3cr3t-value"], stream=stream)
    structlog.get_logger("t").info("lookup", product="p", token="s3cr3t-value")
    logging.getLogger("slack_bolt").warning("failed with s3cr3t-value inside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "lookup"
    assert lines[0]["token"] == REDACTED
    assert "s3cr3t-value" not in stream.getvalue()
    assert len(lines) == 2
