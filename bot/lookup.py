"""The lookup use case: one customer e-mail in one or more products, timed and logged."""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import structlog

from bot.audit import Actor, Auditor
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.errors import LicenseApiError
from bot.licensespring.management import LicenseList, ManagementApiClient, ManagementApiError
from bot.licensespring.models import CustomerLicenseUsers
from bot.metrics import Metrics
from bot.reverse import Found, ReverseLookup, customers_of
from bot.seats import SEATS_UNREADABLE, TOO_MANY_LICENSES, Seats, count_seats
from bot.summary import Summary, summarise
from bot.userlist import EVERYONE, Selection, UserIndex, UserQuery, on_full_license

log = structlog.get_logger("lookup")
T = TypeVar("T")


def new_reference() -> str:
    """A short id shown to users with failures and logged with them, to find one in the other."""
    return secrets.token_hex(4)


REPLY_RESERVE_S = 0.5
# Seats are an enrichment: after the License API has answered, wait at most this long for them.
SEATS_GRACE_S = 1.5
REVERSE_BUDGET_S = 4.0
"""What asking the Management API whose license user an e-mail is may take: a hung
Management API must not hold every "no such customer" reply until the lookup's deadline."""
NOT_A_CUSTOMER = frozenset({"customer_does_not_exist"})


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
    # With a management key: the customer's seats (None: no key, or no license states a cap).
    seats: Seats | None = None
    # Set when the e-mail asked was not a customer's: what the Management API found. With
    # `Found.ONE` the outcome is the customer's (`email` is the customer's e-mail).
    reverse: ReverseLookup | None = None

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
        management: ManagementApiClient | None = None,
    ) -> None:
        self.client = client
        self.management = management if management is not None and management.configured else None
        self.auditor = auditor
        self.metrics = metrics
        # A person waits: one deadline per lookup, retries included, minus the moment it takes
        # to deliver the failure reply, so that reply arrives within the deadline.
        self.deadline_s = (
            None if deadline_s is None else deadline_s - min(REPLY_RESERVE_S, deadline_s / 4)
        )
        self._indexes = _IndexCache()

    async def lookup_one(
        self,
        product: str,
        email: str,
        *,
        fresh: bool = False,
        query: UserQuery = EVERYONE,
        reverse: bool = True,
        until: float | None = None,
    ) -> LookupOutcome:
        """One product: the License API's answer, with seats and, for an e-mail that is not a
        customer's, the Management API's reverse lookup (`reverse`). `until` is the
        `time.monotonic()` deadline of the whole lookup (default: now + the deadline)."""
        if until is None and self.deadline_s is not None:
            until = time.monotonic() + self.deadline_s
        seats_task = self._start_seats(product, email, fresh, until)
        try:
            result = await self.client.lookup(product, email, fresh=fresh, deadline_s=_left(until))
        except LicenseApiError as error:
            if seats_task is not None:
                seats_task.cancel()
            failed = LookupOutcome(product, email, None, error, 0.0, cached=False, query=query)
            if reverse and error.code in NOT_A_CUSTOMER:
                return await self._reverse(failed, fresh, until)
            return failed
        index = self._indexes.get(product, result.answer)
        if index is None:
            index = await off_loop_if_large(
                len(result.answer.users), _index_answer, product, result.answer
            )
            self._indexes.put(product, result.answer, index)
        if index.is_selected(query):
            selection = index.select(query)
        else:
            selection = await off_loop_if_large(index.summary.total, index.select, query)
        seats = await self._seats_within(seats_task, until)
        if seats is not None and seats.full:
            matches = index.select(UserQuery(query.search))
            selection = on_full_license(matches, selection, seats.full_users())
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
            seats=seats,
        )

    def _start_seats(
        self, product: str, email: str, fresh: bool, until: float | None
    ) -> asyncio.Future[LicenseList] | None:
        if self.management is None:
            return None
        task = asyncio.ensure_future(
            self.management.licenses_of_customer(
                email, product, fresh=fresh, deadline_s=_left(until)
            )
        )
        task.add_done_callback(_retrieve)
        return task

    async def _seats_within(
        self, task: asyncio.Future[LicenseList] | None, until: float | None
    ) -> Seats | None:
        """The seats if they come within SEATS_GRACE_S (and the deadline); else "unreadable"."""
        if task is None:
            return None
        grace = SEATS_GRACE_S if until is None else min(SEATS_GRACE_S, _left(until) or 0.0)
        if not task.done():
            await asyncio.wait({task}, timeout=grace)
        if not task.done():
            # It goes on in the background and fills the cache for the next page or lookup.
            log.info("seats_late", waited_s=round(grace, 3))
            return SEATS_UNREADABLE
        error = task.exception()
        if error is not None:
            code = error.code if isinstance(error, ManagementApiError) else type(error).__name__
            log.info("seats_unreadable", code=code)
            return SEATS_UNREADABLE
        found = task.result()
        if not found.complete:
            return TOO_MANY_LICENSES
        return count_seats(found.licenses)

    async def _reverse(
        self, failed: LookupOutcome, fresh: bool, until: float | None
    ) -> LookupOutcome:
        """The e-mail is no customer of the product: is it one of a customer's license users?"""
        email, product = failed.email, failed.product
        if self.management is None:
            return replace(failed, reverse=ReverseLookup(Found.NO_KEY, email))
        try:
            left = _left(until)
            budget = REVERSE_BUDGET_S if left is None else min(left, REVERSE_BUDGET_S)
            licenses = await self.management.licenses_of_user(
                email, product, fresh=fresh, deadline_s=budget
            )
        except ManagementApiError as error:
            log.info("reverse_lookup_failed", product=product, code=error.code)
            return replace(
                failed, reverse=ReverseLookup(Found.FAILED, email, failure=error.sentence)
            )
        customers = customers_of(licenses.licenses)
        if not customers:
            return replace(failed, reverse=ReverseLookup(Found.NONE, email))
        if len(customers) > 1:
            return replace(failed, reverse=ReverseLookup(Found.SEVERAL, email, customers))
        query = failed.query
        narrowed = query if query.search else UserQuery(email, query.filter)
        outcome = await self.lookup_one(
            product, customers[0].email, fresh=fresh, query=narrowed, reverse=False, until=until
        )
        if outcome.error is not None and outcome.error.code in NOT_A_CUSTOMER:
            return replace(failed, reverse=ReverseLookup(Found.UNKNOWN_CUSTOMER, email, customers))
        return replace(outcome, reverse=ReverseLookup(Found.ONE, email, customers))

    async def refresh(self, product: str, email: str, *, surface: str) -> LookupOutcome:
        """A fresh lookup for the bot itself (the alert poller): no cache, counted in the
        metrics, not audited (no person asked)."""
        # A watch is on a customer: never swap in another one found from a license user.
        outcome = await self.lookup_one(product, email, fresh=True, reverse=False)
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


LARGE_CUSTOMER = 2_000


def _left(until: float | None) -> float | None:
    """Seconds left before `until` (a `time.monotonic()` deadline), None without one."""
    return None if until is None else max(0.0, until - time.monotonic())


def _retrieve(task: asyncio.Future[LicenseList]) -> None:
    # A late seats request may fail after nobody waits for it: mark its error as seen.
    if not task.cancelled():
        task.exception()


def _index_answer(product: str, answer: CustomerLicenseUsers) -> UserIndex:
    return UserIndex(summarise(product, answer), answer.users)


async def off_loop_if_large(users: int, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, in a worker thread when it concerns a large customer (it would hold
    the event loop, and every ack waiting on it, for tens of milliseconds or more)."""
    if users < LARGE_CUSTOMER:
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
