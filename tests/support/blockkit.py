"""slack-sdk's own Block Kit models as a second judge of every message the bot builds."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Each block parses into slack-sdk's model of its type and passes its `validate_json()`."""
    assert blocks, "a message with blocks needs at least one"
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, f"slack-sdk does not know this block: {block}"
        assert parsed.type == block["type"]
        parsed.validate_json()  # raises SlackObjectFormationError on a broken limit
