"""The lookup use case: one customer e-mail in one or more products, timed and logged."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.audit import Actor, Auditor
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.errors import LicenseApiError
from bot.licensespring.models import CustomerLicenseUsers
from bot.metrics import Metrics
from bot.summary import Summary, summarise

log = structlog.get_logger("lookup")


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

    async def lookup_one(self, product: str, email: str, *, fresh: bool = False) -> LookupOutcome:
        try:
            result = await self.client.lookup(
                product, email, fresh=fresh, deadline_s=self.deadline_s
            )
        except LicenseApiError as error:
            return LookupOutcome(product, email, None, error, 0.0, cached=False)
        summary = await _summarise_off_loop(product, result.answer)
        return LookupOutcome(product, email, summary, None, result.upstream_ms, result.cached)

    async def lookup(
        self,
        products: Sequence[str],
        email: str,
        *,
        surface: str,
        reference: str,
        actor: Actor,
    ) -> list[LookupOutcome]:
        """Look the e-mail up in each product concurrently; one log event and audit row each."""
        started = time.monotonic()
        outcomes = await asyncio.gather(*(self.lookup_one(p, email) for p in products))
        total_ms = round((time.monotonic() - started) * 1000, 1)
        for outcome in outcomes:
            if self.metrics is not None:
                self.metrics.lookups.labels(outcome.outcome, surface).inc()
                if not outcome.cached and outcome.error is None:
                    self.metrics.upstream_seconds.observe(outcome.upstream_ms / 1000)
            log.info(
                "lookup",
                reference=reference,
                surface=surface,
                product=outcome.product,
                customer=email,
                outcome=outcome.outcome,
                cached=outcome.cached,
                users=outcome.summary.total if outcome.summary else None,
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


async def _summarise_off_loop(product: str, answer: CustomerLicenseUsers) -> Summary:
    if len(answer.users) < _LARGE_CUSTOMER:
        return summarise(product, answer)
    # Sorting tens of thousands of users takes tens of ms: keep the event loop (and acks) free.
    return await asyncio.to_thread(summarise, product, answer)
