"""A whole-session check: no secret, token, shared key or initial password leaves the bot,
and no task dies unseen.

Every log line the test session writes, every body sent to the fake Slack, and the output of
every bot process the tests start is scanned; the session fails on any hit. A log line saying
"Task exception was never retrieved" (asyncio's word for a failure nobody handled, e.g. an
error handler answering Bolt after the ack) is a hit too.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TextIO

UNRETRIEVED = "Task exception was never retrieved"


class LeakScanner:
    def __init__(self, secrets: Iterable[str], passwords: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        self._passwords = frozenset(p for p in passwords if p)
        self._lengths = sorted({len(p) for p in self._passwords})
        self._lock = threading.Lock()
        self.hits: list[str] = []
        self.scanned = 0

    def scan(self, where: str, text: str) -> None:
        found = [f"{where}: a configured secret ({s[:3]}…)" for s in self._secrets if s in text]
        if UNRETRIEVED in text:
            found.append(f"{where}: {UNRETRIEVED}: {text[:300]}")
        found += [
            f"{where}: an initial_password value"
            for length in self._lengths
            if any(text[i : i + length] in self._passwords for i in range(len(text) - length + 1))
        ]
        with self._lock:
            self.scanned += 1
            self.hits.extend(found)

    def scan_bytes(self, where: str, body: bytes) -> None:
        self.scan(where, body.decode("utf-8", errors="replace"))


class ScannedStream:
    """A text stream for log output: scans each write, then passes it to pytest's capture.

    Lines written while no test captures stderr (a server thread logging between tests) are
    scanned but not printed, so they never land between pytest's progress dots.
    """

    def __init__(self, scanner: LeakScanner) -> None:
        self._scanner = scanner

    def write(self, text: str) -> int:
        self._scanner.scan("log", text)
        target: TextIO = sys.stderr
        if target is sys.__stderr__:
            return len(text)
        return target.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return False


ACTIVE: LeakScanner | None = None  # set by the session fixture; subprocess helpers report here


def scan_process_output(where: str, *outputs: str | None) -> None:
    if ACTIVE is not None:
        for output in outputs:
            if output:
                ACTIVE.scan(where, output)
