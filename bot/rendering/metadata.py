"""The shapes of `private_metadata`: what a modal carries from its opening to its submission.

Slack hands `private_metadata` back as it was given, but anyone who can submit a view can send
any string: each shape is read back strictly, and anything else reads as None.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_METADATA_CHARS = 3_000  # Slack's limit on private_metadata

Origin = Literal["home", "shortcut", "summary"]


class Metadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def dump(self) -> str:
        raw = self.model_dump_json(exclude_none=True)
        assert len(raw) <= MAX_METADATA_CHARS, "private_metadata over Slack's limit"
        return raw


M = TypeVar("M", bound=Metadata)


def read_metadata(shape: type[M], raw: object) -> M | None:
    """`raw` read as `shape`, or None when it is not one (not JSON, other fields, wrong types)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_METADATA_CHARS:
        return None
    try:
        return shape.model_validate_json(raw)
    except ValidationError:
        return None


class FormOrigin(Metadata):
    """A lookup or watch form: who opened it, and from which surface."""

    user: str = Field(min_length=1, max_length=40)
    origin: Origin


class ProductChoice(Metadata):
    """The message shortcut's product picker: where to reply, and the e-mails to look up."""

    channel: str = Field(min_length=1, max_length=40)
    thread_ts: str | None = Field(default=None, max_length=40)
    emails: tuple[str, ...] = Field(min_length=1, max_length=5)
    response_url: str | None = Field(default=None, max_length=1_000)
