"""In-flight work the process must finish (or knowingly abandon) before it shuts down."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import structlog

log = structlog.get_logger("tasks")

P = ParamSpec("P")
T = TypeVar("T")


class TaskTracker:
    """Listener runs and background jobs register here; shutdown drains them with a deadline."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    def track_current(self) -> None:
        task = asyncio.current_task()
        if task is not None and task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run a background job; its failure is logged, never lost."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(functools.partial(_log_failure, name))
        return task

    def listener(self, function: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        """Wrap a Bolt listener so the task running it is drained at shutdown."""

        @functools.wraps(function)
        async def tracked(*args: P.args, **kwargs: P.kwargs) -> T:
            self.track_current()
            return await function(*args, **kwargs)

        return tracked

    async def drain(self, deadline_s: float) -> int:
        """Wait up to `deadline_s` for tracked work; cancel what is left; return how many."""
        current = asyncio.current_task()
        pending = {t for t in self._tasks if not t.done() and t is not current}
        if not pending:
            return 0
        log.info("draining", tasks=len(pending), deadline_s=deadline_s)
        _, still_running = await asyncio.wait(pending, timeout=deadline_s)
        for task in still_running:
            task.cancel()
        if still_running:
            log.warning("drain_timeout", abandoned=len(still_running))
            await asyncio.wait(still_running, timeout=1)
        return len(still_running)


def _log_failure(name: str, task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error(
            "background_task_failed", task=name, error_type=type(error).__name__, exc_info=error
        )
