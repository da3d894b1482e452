"""The audit trail: every lookup, share, escalation, thread reply and refusal, stored and logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from bot.store import AuditEntry, Store

log = structlog.get_logger("audit")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked, and from where (built from a Slack payload in `bot.slack.core.context`)."""

    slack_user: str
    channel: str | None
    team: str | None = None
    thread_ts: str | None = None  # the thread the request came from, where there is one


class Auditor:
    def __init__(self, store: Store | None) -> None:
        self._store = store

    async def record(
        self,
        actor: Actor,
        action: str,
        *,
        outcome: str,
        product: str | None = None,
        customer_email: str | None = None,
        reference: str | None = None,
        detail: str | None = None,
    ) -> None:
        entry = AuditEntry(
            at=datetime.now(UTC),
            slack_user=actor.slack_user,
            channel=actor.channel,
            action=action,
            product=product,
            customer_email=customer_email,
            outcome=outcome,
            reference=reference,
            detail=detail,
        )
        log.info(
            "audit",
            action=action,
            slack_user=actor.slack_user,
            channel=actor.channel,
            product=product,
            customer=customer_email,
            outcome=outcome,
            reference=reference,
            detail=detail,
        )
        if self._store is None:
            return
        try:
            await self._store.record_audit(entry)
        except Exception as error:  # noqa: BLE001 - a store hiccup must not fail the user's request
            log.error("audit_write_failed", action=action, reference=reference, error=str(error))
