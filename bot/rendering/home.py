"""Pure: the App Home view of one person. No I/O.

Whatever the number of lookups and watches, the view stays within Slack's limits: at most
`MAX_HOME_LOOKUPS` lookups and `MAX_HOME_WATCHES` watches are shown (the rest are counted),
every piece of outside text is escaped and bounded, so the view is far below 100 blocks and
250 kB (tests check the worst case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.rendering.blocks import (
    Block,
    affordable_button_value,
    button_element,
    context_block,
    format_number,
    header_block,
    plain_text,
    section_block,
)
from bot.rendering.ids import BOT_NAME, ActionId, BlockId
from bot.rendering.mrkdwn import escape_within, slack_date, utc_fallback
from bot.rendering.watches import last_check, watch_state
from bot.store import Watch

MAX_HOME_LOOKUPS = 10
MAX_HOME_WATCHES = 30
MAX_VIEW_BLOCKS = 100

_EMAIL_COST = 80
_PRODUCT_COST = 40
_NOTICE_COST = 1_500


@dataclass(frozen=True, slots=True)
class RecentLookup:
    product: str
    customer_email: str
    at: datetime
    outcome: str  # "ok" or the error code


@dataclass(frozen=True, slots=True)
class HomeContent:
    lookups: Sequence[RecentLookup]
    watches: Sequence[Watch]
    total_watches: int
    now: datetime
    store_available: bool = True
    notice: str | None = None  # the bot's own mrkdwn: what the last button did


def render_home(content: HomeContent) -> dict[str, Any]:
    blocks: list[Block] = [
        header_block(BOT_NAME),
        section_block(
            "Look up a customer's LicenseSpring license users (the answer comes to your "
            "direct messages), or watch a customer for a channel."
        ),
        {
            "type": "actions",
            "block_id": BlockId.HOME_ACTIONS,
            "elements": [
                {**button_element("Look up", ActionId.HOME_LOOKUP, "lookup"), "style": "primary"},
                button_element("Watch a customer…", ActionId.HOME_WATCH, "watch"),
            ],
        },
    ]
    if content.notice:
        blocks.append(section_block(_bounded(content.notice)))
    if not content.store_available:
        blocks.append(
            context_block(
                ":warning: Recent lookups and watches are unavailable right now (the store did "
                "not answer). Lookups still work."
            )
        )
        return _home(blocks)
    blocks += [{"type": "divider"}, header_block("Your recent lookups")]
    blocks += _lookup_blocks(content.lookups[:MAX_HOME_LOOKUPS], content.now)
    blocks += [{"type": "divider"}, header_block(f"Watches ({content.total_watches})")]
    blocks += _watch_blocks(content)
    return _home(blocks)


def render_refused_home(text: str) -> dict[str, Any]:
    """One line: not allowed, and whom to ask. Nothing else."""
    return _home([section_block(text)])


def _home(blocks: list[Block]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


def _bounded(mrkdwn: str) -> str:
    return mrkdwn if len(mrkdwn) <= _NOTICE_COST else mrkdwn[: _NOTICE_COST - 1] + "…"


def _lookup_blocks(lookups: Sequence[RecentLookup], now: datetime) -> list[Block]:
    if not lookups:
        return [context_block("No lookups yet. Press *Look up* to find a customer.")]
    blocks: list[Block] = []
    for lookup in lookups:
        email = escape_within(lookup.customer_email, _EMAIL_COST) or "—"
        product = escape_within(lookup.product, _PRODUCT_COST) or "—"
        block = section_block(
            f"`{email}` in `{product}`\n{_when(lookup.at)} · {_outcome(lookup.outcome)}"
        )
        value = affordable_button_value(lookup.product, lookup.customer_email, 0)
        if value is not None:
            block["accessory"] = button_element("Look up again", ActionId.LOOKUP_AGAIN, value)
        blocks.append(block)
    return blocks


def _watch_blocks(content: HomeContent) -> list[Block]:
    if not content.watches:
        return [
            context_block(
                "No watches you created or in channels where you use the bot. Press "
                "*Watch a customer…* to start one."
            )
        ]
    shown = content.watches[:MAX_HOME_WATCHES]
    blocks: list[Block] = []
    for watch in shown:
        email = escape_within(watch.customer_email, _EMAIL_COST)
        product = escape_within(watch.product, _PRODUCT_COST)
        blocks.append(
            section_block(
                f"*{watch.id}* · `{email}` in `{product}` → <#{watch.channel_id}> at "
                f"{watch.threshold_pct}%\n{watch_state(watch, content.now)} · "
                f"{last_check(watch, content.now)}"
            )
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"watch_{watch.id}",
                "elements": [
                    button_element("Snooze 24h", ActionId.SNOOZE, str(watch.id)),
                    {
                        **button_element("Unwatch", ActionId.UNWATCH, str(watch.id)),
                        "style": "danger",
                        "confirm": _unwatch_confirm(email),
                    },
                ],
            }
        )
    hidden = max(content.total_watches, len(content.watches)) - len(shown)
    if hidden > 0:
        blocks.append(
            context_block(
                f"…and {format_number(hidden)} more {'watch' if hidden == 1 else 'watches'}: "
                "see `/license-users watches`."
            )
        )
    blocks.append(
        context_block("Watches you created, and watches in channels where you used the bot.")
    )
    return blocks


def _unwatch_confirm(email: str) -> dict[str, Any]:
    return {
        "title": plain_text("Stop this watch?"),
        "text": {"type": "mrkdwn", "text": f"No more alerts for `{email}`.", "verbatim": True},
        "confirm": plain_text("Unwatch"),
        "deny": plain_text("Keep it"),
    }


def _when(at: datetime) -> str:
    return slack_date(at.timestamp(), utc_fallback(at.timestamp()))


def _outcome(outcome: str) -> str:
    if outcome == "ok":
        return ":white_check_mark: found"
    if outcome in {"customer_does_not_exist", "customer_not_found"}:
        return ":mag: no such customer"
    return f":warning: `{escape_within(outcome, 40)}`"
