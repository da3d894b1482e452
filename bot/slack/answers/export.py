"""Export CSV: the listed users as a file in the presser's DM with the bot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.export import export_filename, users_csv
from bot.rendering.blocks import (
    render_notice,
    shown_search,
)
from bot.rendering.mrkdwn import escape
from bot.slack.answers.state import Asked, audit, found_pressed
from bot.slack.answers.upload import upload_to_dm
from bot.slack.core.errors import (
    NotDelivered,
)
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services
from bot.summary import Summary
from bot.userlist import Selection, UserFilter

# From the press to the file in the requester's DM (three Slack calls and the upload).
EXPORT_DEADLINE_S = 60.0
# Building the CSV of this many users or more runs in a worker thread.
_LARGE_EXPORT = 2_000

# --- export ---------------------------------------------------------------------------------


async def export(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    """The lookup's users (the selected ones) as a CSV file in the presser's DM with the bot."""
    await ack()
    found = await found_pressed(asked, actor, reference, services, "export")
    summary, selection = found.summary, found.selection
    if not selection.users:
        await replier.private(render_notice(":mag: Nothing to export: no user is listed."))
        return
    rows = selection.count
    filename = export_filename(
        summary.product, found.outcome.email, selection.query, datetime.now(UTC).date()
    )
    if rows < _LARGE_EXPORT:
        content = users_csv(selection.users)
    else:
        content = await asyncio.to_thread(users_csv, selection.users)
    detail = f"{rows} rows"
    try:
        await upload_to_dm(
            replier.client,
            actor.slack_user,
            filename=filename,
            content=content,
            comment=_export_comment(summary, found.outcome.email, selection),
            deadline_s=EXPORT_DEADLINE_S,
        )
    except NotDelivered as failed:
        await audit(services, actor, "export", failed.code, found.outcome, reference, detail)
        raise
    await replier.private(
        render_notice(
            f":page_facing_up: Sent `{escape(filename)}` ({rows:,} "
            f"{'user' if rows == 1 else 'users'}) to your direct messages with me."
        )
    )
    await audit(services, actor, "export", "uploaded", found.outcome, reference, detail)


def _export_comment(summary: Summary, email: str, selection: Selection) -> str:
    what = f"License users of `{escape(email)}` in `{escape(summary.product)}`"
    if selection.query.search:
        what += f" matching `{shown_search(selection.query.search)}`"
    if selection.query.filter is not UserFilter.ALL:
        what += f", {selection.query.filter.label.lower()}"
    return f"{what}: {selection.count:,} of {summary.total:,}."
