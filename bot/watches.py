"""The watch lifecycle, one implementation for every surface: create (with its baseline), snooze,
remove, pause, and who may change a watch.

The `watch` command, the watch form, the alert and App Home buttons and the poller all come
through here, so the lookup, the ownership rule and the audit rows are the same everywhere.
Slack is reached only through what the caller passes in (a channel check, a membership test).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import structlog

from bot.alert_rules import evaluate, snapshot_of
from bot.audit import Actor, Auditor
from bot.lookup import LookupService
from bot.rendering.alerts import alert_payload
from bot.rendering.blocks import reverse_headline, reverse_note
from bot.rendering.replies import lookup_error_text
from bot.rendering.watches import (
    NO_STORE_TEXT,
    ChannelProblem,
    gone_text,
    not_theirs_text,
    render_snoozed,
    stopped_text,
    watching_text,
)
from bot.seats import Seats
from bot.store import CheckResult, Store, Watch
from bot.summary import Summary
from bot.webhooks.events import watch_keys

log = structlog.get_logger("watches")

SNOOZE = timedelta(hours=24)
MAX_WATCH_ID = 2**31 - 1
"""Watch ids are the store's 32-bit integer keys."""
MEMBERSHIP_READS_AT_ONCE = 10
_WATCH_ID = re.compile(r"#?([0-9]{1,10})", re.ASCII)


def parse_watch_id(text: str) -> int | None:
    """A watch id as people type it (`12` or `#12`): ASCII digits that fit the column, else None.

    `str.isdigit` would accept `²` and `٣`, which `int()` or the database then refuse.
    """
    match = _WATCH_ID.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 0 < number <= MAX_WATCH_ID else None


class Membership(Protocol):
    """Whether a person is in a channel (Slack's `conversations.members`, cached)."""

    async def is_member(self, channel: str, user: str) -> bool: ...


ChannelCheck = Callable[[str], Awaitable[ChannelProblem | None]]
"""Why the bot could not post alerts in a channel, or None when it can."""

WatchField = Literal["product", "email", "channel"]


@dataclass(frozen=True, slots=True)
class WatchResult:
    """What became of a request to watch; `text` is mrkdwn for the person who asked."""

    text: str
    watch: Watch | None = None
    created: bool = False
    field: WatchField | None = None  # the input to blame, when one is wrong
    problem: ChannelProblem | None = None


ChangeOutcome = Literal["changed", "gone", "not_theirs", "no_store"]


@dataclass(frozen=True, slots=True)
class WatchChange:
    """What became of a snooze or removal; `text` is mrkdwn for the person who asked."""

    text: str
    outcome: ChangeOutcome
    watch: Watch | None = None  # as it was before the change

    @property
    def changed(self) -> bool:
        return self.outcome == "changed"


@dataclass(frozen=True, slots=True)
class VisibleWatches:
    watches: list[Watch]
    hidden: int  # watches the person may not see


class WatchLifecycle:
    def __init__(
        self,
        store: Store | None,
        lookups: LookupService,
        auditor: Auditor,
        *,
        known_products: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._lookups = lookups
        self._auditor = auditor
        self._known_products = tuple(known_products)
        self._clock = clock

    # --- create ---------------------------------------------------------------------------

    async def create(
        self,
        actor: Actor,
        *,
        reference: str,
        product: str,
        email: str,
        channel: str,
        threshold_pct: int,
        check_channel: ChannelCheck | None,
    ) -> WatchResult:
        """Check the channel, look the customer up once, then store the watch and audit it."""
        store = self.store
        if store is None:
            return WatchResult(f":x: {NO_STORE_TEXT}")
        problem = await check_channel(channel) if check_channel is not None else None
        if problem is not None:
            return WatchResult(f":x: {problem.for_command()}", field="channel", problem=problem)
        [outcome] = await self._lookups.lookup(
            (product,), email, surface="watch", reference=reference, actor=actor
        )
        if outcome.error is not None:
            text = lookup_error_text(
                outcome.error, product=product, email=email, known_products=self._known_products
            )
            if outcome.reverse is not None:
                text += " " + reverse_note(outcome.reverse, product)
            return WatchResult(text, field=_blamed(outcome.error.code))
        # Given a license user's e-mail, the watch is on the customer found (and says so).
        found = reverse_headline(outcome.reverse) if outcome.reverse is not None else None
        email = outcome.email
        watch, created = await store.watches.add(
            product=product,
            customer_email=email,
            channel_id=channel,
            threshold_pct=threshold_pct,
            created_by=actor.slack_user,
            now=self._clock(),
        )
        await self._auditor.record(
            actor,
            "watch",
            outcome="created" if created else "updated",
            product=product,
            customer_email=email,
            reference=reference,
            detail=f"watch {watch.id} in {channel} at {threshold_pct}%",
        )
        if watch.last_snapshot is None and outcome.summary is not None:
            await self._take_baseline(store, watch, outcome.summary, outcome.seats)
        text = watching_text(watch, created=created)
        if found is not None:
            text = f"{found}: watching the customer.\n{text}"
        return WatchResult(text, watch=watch, created=created)

    async def _take_baseline(
        self, store: Store, watch: Watch, summary: Summary, seats: Seats | None = None
    ) -> None:
        """The lookup just made is the watch's first snapshot, so the first change alerts even
        when the next poll is hours away. Its confirmation waits in the outbox; the watch is
        due now, so the poller posts it at once."""
        now = self._clock()
        current = snapshot_of(summary, seats)
        alerts = evaluate(None, current, watch.threshold_pct)
        result = CheckResult(
            outcome="ok",
            snapshot=current.to_json(),
            consecutive_failures=0,
            failure_alerted=False,
            next_check_at=now,
            alerts=[(a.kind.value, alert_payload(watch, a, None, current)) for a in alerts],
            keys=watch_keys(summary),
        )
        if not await store.watches.save_baseline(watch, result, now=now):
            log.info("watch_baseline_skipped", watch_id=watch.id)

    # --- who may change a watch -----------------------------------------------------------

    async def may_change(self, actor: Actor, watch: Watch, members: Membership) -> bool:
        """Its creator, or a member of the channel its alerts go to."""
        if actor.slack_user == watch.created_by:
            return True
        return await members.is_member(watch.channel_id, actor.slack_user)

    async def _refused(self, actor: Actor, watch: Watch, action: str) -> WatchChange:
        await self._auditor.record(
            actor,
            action,
            outcome="not_theirs",
            product=watch.product,
            customer_email=watch.customer_email,
            detail=f"watch {watch.id} in {watch.channel_id} by {watch.created_by}",
        )
        return WatchChange(not_theirs_text(watch), "not_theirs")

    # --- snooze, remove, pause ------------------------------------------------------------

    async def _changeable(
        self, actor: Actor, watch_id: int, members: Membership, action: str
    ) -> Watch | WatchChange:
        """The watch, when it exists and the person may change it; else what to tell them."""
        if self.store is None:
            return WatchChange(f":x: {NO_STORE_TEXT}", "no_store")
        watch = await self.store.watches.get(watch_id)
        if watch is None:
            return WatchChange(gone_text(watch_id), "gone")
        if not await self.may_change(actor, watch, members):
            return await self._refused(actor, watch, action)
        return watch

    async def snooze(self, actor: Actor, watch_id: int, members: Membership) -> WatchChange:
        """Snooze the watch's alerts for 24 hours, if the person may."""
        found = await self._changeable(actor, watch_id, members, "snooze")
        if isinstance(found, WatchChange):
            return found
        assert self.store is not None
        until = self._clock() + SNOOZE
        snoozed = await self.store.watches.snooze(watch_id, until)
        if snoozed is None:
            return WatchChange(gone_text(watch_id), "gone")
        await self._auditor.record(
            actor,
            "snooze",
            outcome="snoozed",
            product=snoozed.product,
            customer_email=snoozed.customer_email,
            detail=f"watch {watch_id} until {until:%Y-%m-%d %H:%M}Z",
        )
        message = render_snoozed(
            f"{until:%Y-%m-%d %H:%M} UTC",
            until_ts=int(until.timestamp()),
            customer_email=snoozed.customer_email,
        )
        return WatchChange(message.text, "changed", snoozed)

    async def remove(self, actor: Actor, watch_id: int, members: Membership) -> WatchChange:
        """Remove the watch, if the person may; audited with who removed it."""
        found = await self._changeable(actor, watch_id, members, "unwatch")
        if isinstance(found, WatchChange):
            return found
        assert self.store is not None
        removed = await self.store.watches.remove(watch_id)
        if removed is None:
            return WatchChange(gone_text(watch_id), "gone")
        await self._audit_removed(actor, removed)
        return WatchChange(stopped_text([removed]), "changed", removed)

    async def remove_in_channel(self, actor: Actor, email: str, channel: str) -> list[Watch]:
        """Remove the watches of `email` in `channel`, where the person asked from (so is in)."""
        if self.store is None:
            return []
        removed = await self.store.watches.remove_by_email(email, channel)
        for watch in removed:
            await self._audit_removed(actor, watch)
        return removed

    async def _audit_removed(self, actor: Actor, watch: Watch) -> None:
        await self._auditor.record(
            actor,
            "unwatch",
            outcome="removed",
            product=watch.product,
            customer_email=watch.customer_email,
            detail=f"watch {watch.id} in {watch.channel_id} by {actor.slack_user}",
        )

    async def pause(self, watch_id: int, reason: str) -> Watch | None:
        """Stop polling a watch whose channel no longer takes alerts (Slack's error code)."""
        if self.store is None:
            return None
        paused = await self.store.watches.pause(watch_id, reason)
        if paused is not None:
            log.warning("watch_paused", watch_id=watch_id, channel=paused.channel_id, code=reason)
        return paused

    # --- listing --------------------------------------------------------------------------

    async def visible(
        self, actor: Actor, channel: str | None, members: Membership
    ) -> VisibleWatches:
        """The watches (of `channel`, or all) that the person made or whose channel they are in."""
        if self.store is None:
            return VisibleWatches([], 0)
        watches = await self.store.watches.all(channel)
        # Channels asked about concurrently (a few at a time, within Slack's rate limits): the
        # person waits for a few membership reads, each with its own deadline, not one per channel.
        others = sorted({w.channel_id for w in watches if w.created_by != actor.slack_user})
        at_once = asyncio.Semaphore(MEMBERSHIP_READS_AT_ONCE)

        async def is_member(channel: str) -> bool:
            async with at_once:
                return await members.is_member(channel, actor.slack_user)

        answers = await asyncio.gather(*(is_member(c) for c in others))
        member_of = dict(zip(others, answers, strict=True))
        shown = [w for w in watches if w.created_by == actor.slack_user or member_of[w.channel_id]]
        return VisibleWatches(shown, len(watches) - len(shown))


def _blamed(code: str) -> WatchField | None:
    if code in {"unknown_product", "invalid_product_auth_method"}:
        return "product"
    if code in {"customer_does_not_exist", "customer_not_found"}:
        return "email"
    return None
