"""User-facing failures: raised where they are found, answered once by the global handler.

A listener or helper that cannot go on raises one of these instead of telling the user and
returning None; `bot.slack.app`'s error handler turns it into a private reply on the request's
surface, with the request's reference where it helps. Anything else that escapes a listener is
a bug: the user gets the generic reply with that same reference, and the log has the traceback.
"""

from __future__ import annotations

from bot.rendering.blocks import Message, render_notice
from bot.rendering.ids import INVITE_COMMAND, ChannelError
from bot.rendering.mrkdwn import escape

INTERNAL_ERROR_TEXT = (
    ":warning: Something went wrong on our side. Try again; if it keeps happening, "
    "give this reference to whoever runs the bot."
)
STALE_BUTTON_TEXT = ":warning: That button is no longer valid. Run the command again."
INVITE_HINT = f"Invite me with `{INVITE_COMMAND}` and try again."

# Slack's answers when the bot may not post in a conversation, and what to tell the user.
CHANNEL_ERROR_HINTS: dict[str, str] = {
    ChannelError.NOT_IN_CHANNEL: f":wave: I can't post in that channel yet. {INVITE_HINT}",
    ChannelError.CHANNEL_NOT_FOUND: f":wave: I can't post in that channel yet. {INVITE_HINT}",
    ChannelError.IS_ARCHIVED: ":file_cabinet: That channel is archived, so I can't reply there.",
}


class UserFacingError(Exception):
    """A request cannot go on; `text` (the bot's own mrkdwn) says why and what to do."""

    show_reference = False

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def message(self, reference: str) -> Message:
        return render_notice(self.text, reference=reference if self.show_reference else None)


class BadInput(UserFacingError):
    """What the user typed or chose cannot be used."""


class StaleButton(UserFacingError):
    """A button or view whose value no longer makes sense."""

    def __init__(self, text: str = STALE_BUTTON_TEXT) -> None:
        super().__init__(text)


class NotConfigured(UserFacingError):
    """A feature needs a setting the operator did not make."""


class NotInChannel(UserFacingError):
    """Slack will not let the bot post in that conversation; `code` is Slack's error."""

    def __init__(self, code: str) -> None:
        self.code = code
        hint = (
            CHANNEL_ERROR_HINTS.get(code) or f":warning: Slack refused the reply ({escape(code)})."
        )
        super().__init__(hint)


class NotDelivered(UserFacingError):
    """Slack would not take a direct message (or a file) for the person; `code` says why."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f":warning: Slack would not deliver it to your direct messages ({escape(code)})."
        )


class UpstreamFailed(UserFacingError):
    """LicenseSpring could not answer; the reply carries the reference (and may offer a retry)."""

    show_reference = True

    def __init__(self, text: str, *, failure: Message | None = None) -> None:
        super().__init__(text)
        self.failure = failure

    def message(self, reference: str) -> Message:
        return self.failure or render_notice(self.text, reference=reference)
