"""Pure: show a rendered Slack message in a terminal, or open it in Block Kit Builder."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from bot.rendering.blocks import Block, Message

BLOCK_KIT_BUILDER_URL = "https://app.slack.com/block-kit-builder#"

EMOJI = {
    ":no_entry:": "⛔",
    ":warning:": "⚠️",
    ":large_green_circle:": "🟢",
    ":white_circle:": "⚪",
    ":x:": "❌",
    ":mag:": "🔍",
    ":hourglass:": "⌛",
    ":white_check_mark:": "✅",
}

_DIVIDER = "─" * 40
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>|<([^<>|]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_EMOJI_CODE = re.compile(r":[a-z0-9_+-]+:")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHARS = {"amp": "&", "lt": "<", "gt": ">"}
# Keep newlines; drop every other control character so data cannot drive the terminal.
_UNSAFE_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def render_for_terminal(message: Message) -> str:
    """The message as plain, readable text: one paragraph per block."""
    paragraphs = ["\n".join(lines) for lines in map(_block_lines, message.blocks) if lines]
    return "\n\n".join(paragraphs) if paragraphs else _display(message.text)


def block_kit_builder_url(message: Message) -> str:
    """A Block Kit Builder link that previews the message's blocks."""
    payload = json.dumps({"blocks": message.blocks}, ensure_ascii=False, separators=(",", ":"))
    return BLOCK_KIT_BUILDER_URL + quote(payload, safe="")


def block_kit_builder_view_url(view: dict[str, Any]) -> str:
    """A Block Kit Builder link that previews a whole view (App Home or modal)."""
    payload = json.dumps(
        {"type": view["type"], "blocks": view["blocks"]}, ensure_ascii=False, separators=(",", ":")
    )
    return BLOCK_KIT_BUILDER_URL + quote(payload, safe="")


def _block_lines(block: Block) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text_of(block.get("text"))
        return [title, "=" * len(title)]
    if kind == "section":
        return _section_lines(block)
    if kind == "context":
        return [" · ".join(_text_of(element) for element in block.get("elements") or [])]
    if kind == "actions":
        return ["  ".join(_element_text(element) for element in block.get("elements") or [])]
    if kind == "divider":
        return [_DIVIDER]
    return []


def _section_lines(block: Block) -> list[str]:
    lines: list[str] = []
    if "text" in block:
        lines.extend(_text_of(block["text"]).splitlines())
    for field in block.get("fields") or []:
        label, _, value = _text_of(field).partition("\n")
        lines.append(f"{label}: {' '.join(value.splitlines())}" if value else label)
    if "accessory" in block:
        lines.append(_element_text(block["accessory"]))
    return lines


def _element_text(element: dict[str, Any]) -> str:
    if element.get("type") == "button":
        return f"[ {_text_of(element.get('text'))} ]"
    return _text_of(element)


def _text_of(text_object: Any) -> str:
    if not isinstance(text_object, dict):
        return ""
    text = str(text_object.get("text", ""))
    if text_object.get("type") == "mrkdwn":
        text = _BOLD.sub(r"\1", _LINK.sub(_link_text, text))
    return _display(text)


def _link_text(match: re.Match[str]) -> str:
    target, label, bare = match.group(1), match.group(2), match.group(3)
    if bare is not None:
        return bare
    return f"{label} ({target})" if label and label != target else target


def _display(text: str) -> str:
    text = _EMOJI_CODE.sub(lambda match: EMOJI.get(match.group(0), match.group(0)), text)
    text = _ENTITY.sub(lambda match: _ENTITY_CHARS[match.group(1)], text)
    return _UNSAFE_CONTROLS.sub(" ", text)
