"""The lookup use case: one customer e-mail in one or more products, timed and logged."""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from bot.audit import Actor, Auditor
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.errors import LicenseApiError
from bot.licensespring.models import CustomerLicenseUsers
from bot.metrics import Metrics
from bot.summary import Summary, summarise
from bot.userlist import EVERYONE, Selection, UserIndex, UserQuery

log = structlog.get_logger("lookup")
T = TypeVar("T")


def new_reference() -> str:
    """A short id shown to users with failures and logged with them, to find one in the other."""
    return secrets.token_hex(4)


REPLY_RESERVE_S = 0.5


@dataclass(frozen=True, slots=True)
class LookupOutcome:
    product: str
    email: str
    summary: Summary | None
    error: LicenseApiError | None
    upstream_ms: float
    cached: bool
    selection: Selection | None = None  # the users the lookup's query selects
    query: UserQuery = EVERYONE  # what was asked, kept on failures too (for "Try again")
    sent_at: float = 0.0  # wall-clock time the answering request was sent (0 for a cache hit)

    @property
    def ok(self) -> bool:
        return self.summary is not None

    @property
    def outcome(self) -> str:
        return "ok" if self.error is None else self.error.code


class LookupService:
    def __init__(
        self,
        client: LicenseApiClient,
        auditor: Auditor,
        metrics: Metrics | None = None,
        *,
        deadline_s: float | None = None,
    ) -> None:
        self.client = client
        self.auditor = auditor
        self.metrics = metrics
        # A person waits: one deadline per lookup, retries included, minus the moment it takes
        # to deliver the failure reply, so that reply arrives within the deadline.
        self.deadline_s = (
            None if deadline_s is None else deadline_s - min(REPLY_RESERVE_S, deadline_s / 4)
        )
        self._indexes = _IndexCache()

    async def lookup_one(
        self, product: str, email: str, *, fresh: bool = False, query: UserQuery = EVERYONE
    ) -> LookupOutcome:
        try:
            result = await self.client.lookup(
                product, email, fresh=fresh, deadline_s=self.deadline_s
            )
        except LicenseApiError as error:
            return LookupOutcome(product, email, None, error, 0.0, cached=False, query=query)
        index = self._indexes.get(product, result.answer)
        if index is None:
            index = await _off_loop_if_large(
                len(result.answer.users), _index_answer, product, result.answer
            )
            self._indexes.put(product, result.answer, index)
        if index.is_selected(query):
            selection = index.select(query)
        else:
            selection = await _off_loop_if_large(index.summary.total, index.select, query)
        return LookupOutcome(
            product,
            email,
            index.summary,
            None,
            result.upstream_ms,
            result.cached,
            selection=selection,
            query=query,
            sent_at=result.sent_at,
        )

    async def refresh(self, product: str, email: str, *, surface: str) -> LookupOutcome:
        """A fresh lookup for the bot itself (the alert poller): no cache, counted in the
        metrics, not audited (no person asked)."""
        outcome = await self.lookup_one(product, email, fresh=True)
        self._count(outcome, surface)
        return outcome

    def _count(self, outcome: LookupOutcome, surface: str) -> None:
        if self.metrics is None:
            return
        self.metrics.lookups.labels(outcome.outcome, surface).inc()
        if not outcome.cached and outcome.error is None:
            self.metrics.upstream_seconds.observe(outcome.upstream_ms / 1000)

    async def lookup(
        self,
        products: Sequence[str],
        email: str,
        *,
        surface: str,
        reference: str,
        actor: Actor,
        query: UserQuery = EVERYONE,
    ) -> list[LookupOutcome]:
        """Look the e-mail up in each product concurrently; one log event and audit row each.

        `query` (a search and/or a filter) selects the users each outcome lists; the totals are
        always the customer's. Searching, filtering and paging reuse the cached answer and its
        index, so within the cache TTL they cost no upstream call and no re-sort.
        """
        started = time.monotonic()
        outcomes = await asyncio.gather(*(self.lookup_one(p, email, query=query) for p in products))
        total_ms = round((time.monotonic() - started) * 1000, 1)
        for outcome in outcomes:
            self._count(outcome, surface)
            log.info(
                "lookup",
                reference=reference,
                surface=surface,
                product=outcome.product,
                customer=email,
                outcome=outcome.outcome,
                cached=outcome.cached,
                users=outcome.summary.total if outcome.summary else None,
                selected=outcome.selection.count
                if outcome.selection is not None and not query.everyone
                else None,
                upstream_ms=round(outcome.upstream_ms, 1),
                total_ms=total_ms,
            )
            await self.auditor.record(
                actor,
                "lookup",
                outcome=outcome.outcome,
                product=outcome.product,
                customer_email=email,
                reference=reference,
                detail=surface,
            )
        return list(outcomes)


_LARGE_CUSTOMER = 2_000


def _index_answer(product: str, answer: CustomerLicenseUsers) -> UserIndex:
    return UserIndex(summarise(product, answer), answer.users)


async def _off_loop_if_large(users: int, work: Callable[..., T], *args: Any) -> T:
    if users < _LARGE_CUSTOMER:
        return work(*args)
    # Sorting or searching tens of thousands of users takes tens of ms: keep the event loop
    # (and acks) free meanwhile.
    return await asyncio.to_thread(work, *args)


class _IndexCache:
    """The UserIndex of each answer the client still holds, found by the answer's identity.

    The client's TTL cache hands out the same answer object until it expires, so paging,
    searching and filtering find the index built for it; when the client drops the answer,
    its index goes with it (a weak reference), so this never holds memory the cache freed.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[weakref.ref[CustomerLicenseUsers], UserIndex]]
        self._entries = {}

    def get(self, product: str, answer: CustomerLicenseUsers) -> UserIndex | None:
        entry = self._entries.get((product, id(answer)))
        if entry is None or entry[0]() is not answer:
            return None
        return entry[1]

    def put(self, product: str, answer: CustomerLicenseUsers, index: UserIndex) -> None:
        key = (product, id(answer))
        entries = self._entries
        entries[key] = (weakref.ref(answer, lambda _: entries.pop(key, None)), index)

    def __len__(self) -> int:
        return len(self._entries)
