"""Child processes on loopback: start, wait for `/healthz`, read RSS, always stop.

Every child is `python -m ...` with a clean environment (only what the bench passes plus a
few basics such as PATH) and runs in a temporary directory, so a developer's `.env` is never
read. A `Fleet` owns the children it started and stops them all on exit, whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from bot.demo.servers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.005
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


class ChildFailed(RuntimeError):
    """A child exited early or did not answer `/healthz` in time."""


def clean_env(values: Mapping[str, str]) -> dict[str, str]:
    """`values` plus PATH and friends; nothing else of the bench's own environment."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    hwm_kb: int

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    @property
    def hwm_mb(self) -> float:
        return self.hwm_kb / 1024


def read_memory(pid: int) -> Memory:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, from /proc."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return Memory(rss_kb=values.get("VmRSS", 0), hwm_kb=values.get("VmHWM", 0))


def read_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (man 5 proc).
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    log_file: IO[bytes]
    started_at: float
    ready_after_s: float = float("nan")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def memory(self) -> Memory:
        return read_memory(self.pid)

    def cpu_seconds(self) -> float:
        return read_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def bot_args(port: int) -> list[str]:
    return ["bot", "serve", "--host", "127.0.0.1", "--port", str(port)]


def floor_args(port: int) -> list[str]:
    return ["bench.floor", "--host", "127.0.0.1", "--port", str(port)]


def sandbox_args(port: int, latency_ms: int = 0) -> list[str]:
    """The sandbox, exactly as users run it: `python -m bot sandbox`."""
    module = ["bot", "sandbox"]
    latency = str(latency_ms)
    return [*module, "--host", "127.0.0.1", "--port", str(port), "--latency-ms", latency]


def wait_ready(child: Child, timeout: float = READY_TIMEOUT_S) -> float:
    """Poll `/healthz` until it answers 200; seconds since the child was started."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                raise ChildFailed(
                    f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}"
                )
            try:
                if http.get(f"{child.url}/healthz").status_code == 200:
                    return time.perf_counter() - child.started_at
            except httpx.TransportError:
                pass
            time.sleep(POLL_INTERVAL_S)
    raise ChildFailed(
        f"{child.name} did not answer /healthz in {timeout:.0f}s:\n{child.log_tail()}"
    )


def stop(child: Child, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
    try:
        if child.popen.poll() is None:
            child.popen.terminate()
            try:
                child.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.popen.kill()
                child.popen.wait(timeout=timeout)
    finally:
        child.log_file.close()


@dataclass
class Fleet:
    """The children started through it; all stopped on exit (reverse start order)."""

    workdir: Path
    children: list[Child] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self,
        name: str,
        args: Callable[[int], Sequence[str]],
        *,
        env: Mapping[str, str],
        port: int | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> Child:
        """Start `python -m <args(port)>` on a free port and wait until it is ready."""
        port = port or free_port()
        command = list(args(port))
        log_path = self.workdir / f"{name}-{port}.log"
        log_file = log_path.open("wb")
        started_at = time.perf_counter()
        popen = subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=self.workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        child = Child(name, popen, port, log_path, log_file, started_at)
        with self._lock:
            self.children.append(child)
        child.ready_after_s = wait_ready(child, ready_timeout)
        return child

    def start_worker(
        self, name: str, *, env: Mapping[str, str], ready_timeout: float = READY_TIMEOUT_S
    ) -> Child:
        """`python -m bot worker` (no HTTP port): ready once it logs `poller_started`."""
        log_path = self.workdir / f"{name}.log"
        log_file = log_path.open("wb")
        started_at = time.perf_counter()
        popen = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            cwd=self.workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        child = Child(name, popen, 0, log_path, log_file, started_at)
        with self._lock:
            self.children.append(child)
        deadline = time.monotonic() + ready_timeout
        while b"poller_started" not in log_path.read_bytes():
            if popen.poll() is not None or time.monotonic() > deadline:
                raise ChildFailed(f"{name} did not start:\n{child.log_tail()}")
            time.sleep(POLL_INTERVAL_S * 10)
        child.ready_after_s = time.perf_counter() - started_at
        return child

    def stop(self, child: Child) -> None:
        with self._lock:
            if child in self.children:
                self.children.remove(child)
        stop(child)

    def close(self) -> None:
        while True:
            with self._lock:
                if not self.children:
                    return
                child = self.children.pop()
            stop(child)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
