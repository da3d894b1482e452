"""The leak scanner itself must catch leaks, or the session-wide check means nothing."""

from bot.demo.fake_slack import FakeSlack
from tests.support.leaks import LeakScanner, ScannedStream


def test_scanner_finds_secrets_and_passwords_anywhere_in_text() -> None:
    scanner = LeakScanner(secrets=["shared-key-123"], passwords=["Pw0rd!xyz1"])
    scanner.scan("a", "nothing to see")
    scanner.scan("b", "prefix shared-key-123 suffix")
    scanner.scan("c", '{"users": [{"initial_password": "Pw0rd!xyz1"}]}')
    assert scanner.scanned == 3
    assert [hit.split(":")[0] for hit in scanner.hits] == ["b", "c"]


def test_scanned_stream_and_fake_slack_observer_feed_the_scanner() -> None:
    scanner = LeakScanner(secrets=["s3cr3t-value"], passwords=[])
    ScannedStream(scanner).write("log line with s3cr3t-value\n")
    slack = FakeSlack()
    slack.observers.append(scanner.scan_bytes)
    slack._observe("api/chat.postMessage", b"text=s3cr3t-value")
    assert len(scanner.hits) == 2


def test_session_scan_is_live(leak_scanner: LeakScanner) -> None:
    assert leak_scanner.scanned >= 0
    assert leak_scanner.hits == []
