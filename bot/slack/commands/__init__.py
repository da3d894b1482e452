"""`/license-users`: lookups, and the watch, unwatch and watches subcommands."""

from __future__ import annotations

from bot.slack.commands.listener import license_users, read_command
from bot.slack.core.grammar import COMMAND
from bot.slack.core.routes import Routes


def register(routes: Routes) -> None:
    routes.command(COMMAND, read_command, license_users)
