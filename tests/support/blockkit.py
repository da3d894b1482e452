"""slack-sdk's own Block Kit models as a second judge of every view and message the bot sends."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
MAX_MESSAGE_BLOCKS = 50


def assert_valid_view(view: dict[str, Any]) -> None:
    """The view passes slack-sdk's checks, keeps every block through its model, and fits."""
    model = View(**view)
    model.validate_json()
    assert len(model.to_dict()["blocks"]) == len(view["blocks"])
    assert 1 <= len(view["blocks"]) <= MAX_VIEW_BLOCKS
    assert len(json.dumps(view, ensure_ascii=False).encode()) < MAX_VIEW_BYTES


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Each block parses into slack-sdk's model of its type and passes its `validate_json()`."""
    assert 1 <= len(blocks) <= MAX_MESSAGE_BLOCKS, f"{len(blocks)} blocks in one message"
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, f"slack-sdk does not know this block: {block}"
        assert parsed.type == block["type"]
        parsed.validate_json()  # raises SlackObjectFormationError on a broken limit
