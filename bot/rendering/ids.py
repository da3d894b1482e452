"""The ids of everything the bot renders that Slack sends back: one vocabulary for rendering,
listener registration and access checks.

StrEnum members are strings, so they go into Block Kit as they are and Bolt matches them.
"""

from __future__ import annotations

import re
from enum import StrEnum

BOT_NAME = "License Users"
"""The bot's display name (`manifest.yml`), as people type it: `@License Users`."""
INVITE_COMMAND = f"/invite @{BOT_NAME}"


class ActionId(StrEnum):
    """`action_id` of buttons and menus."""

    PAGE_PREV = "page_prev"
    PAGE_NEXT = "page_next"
    SHARE = "share_summary"
    ESCALATE = "escalate"
    SHOW_USERS = "show_users"  # also `show_users_<index>` on a multi-product answer
    RETRY = "retry_lookup"  # a failed private lookup: run it again in place
    RETRY_THREAD = "retry_thread_lookup"  # a failed thread reply: run it again in place
    WATCH = "watch_open"  # opens the watch modal for this customer
    FILTER = "user_filter"
    EXPORT = "export_csv"
    SNOOZE = "alert_snooze"
    UNWATCH = "alert_unwatch"
    HOME_LOOKUP = "home_open_lookup"
    HOME_WATCH = "home_open_watch"
    LOOKUP_AGAIN = "home_lookup_again"
    CHOOSE_CUSTOMER = "choose_customer"  # `choose_customer_<index>`: one of several customers

    def indexed(self, index: int) -> str:
        """`show_users_<index>`: one button per product of a multi-product answer."""
        return f"{self.value}_{index}"


SHOW_USERS_PATTERN = re.compile(rf"^{ActionId.SHOW_USERS.value}(_\d+)?$")
"""Show users, alone or for one product of a multi-product answer."""
CHOOSE_CUSTOMER_PATTERN = re.compile(rf"^{ActionId.CHOOSE_CUSTOMER.value}_\d+$")
"""One of the customers a license user belongs to."""


class BlockId(StrEnum):
    """`block_id` of the blocks whose id matters to Slack or to the bot."""

    SUMMARY_ACTIONS = "summary_actions"
    RETRY_ACTIONS = "retry_actions"
    LIST_TOOLS = "user_list"  # the filter menu's block: `user_list:<state value>`
    ALERT_ACTIONS = "alert_actions"
    HOME_ACTIONS = "home_actions"


class CallbackId(StrEnum):
    """`callback_id` of shortcuts (as in `manifest.yml`) and modals."""

    MESSAGE_SHORTCUT = "lookup_license_users"
    GLOBAL_SHORTCUT = "lookup_license_users_global"
    PRODUCT_MODAL = "choose_product"
    LOOKUP_MODAL = "lookup_modal"
    WATCH_MODAL = "watch_modal"
    NOTICE_MODAL = "license_users_notice"


class ChannelError(StrEnum):
    """Slack's answers when the bot may not post in a conversation."""

    NOT_IN_CHANNEL = "not_in_channel"
    CHANNEL_NOT_FOUND = "channel_not_found"
    IS_ARCHIVED = "is_archived"


CLOSED_CHANNEL_CODES = frozenset(ChannelError)
"""The channel is closed to the bot: tell the person how to fix it; alerts pause."""
CANNOT_SEE_CHANNEL_CODES = frozenset({ChannelError.NOT_IN_CHANNEL, ChannelError.CHANNEL_NOT_FOUND})
