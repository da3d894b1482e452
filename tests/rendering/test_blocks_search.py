"""Rendering of searches, filters and the list tools; state in button values; slack-sdk's models
as a second judge of every message kind the bot sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.alert_rules import AlertKind
from bot.licensespring.models import CustomerLicenseUsers, LicenseUser
from bot.rendering.blocks import (
    BUTTON_VALUE_BUDGET,
    MAX_BLOCK_JSON_CHARS,
    MAX_BLOCKS,
    PAGE_SIZE,
    ListState,
    Message,
    SummaryButtons,
    block_json_size,
    check_limits,
    filter_block_id,
    parse_filter_choice,
    parse_state_value,
    render_multi_product,
    render_notice,
    render_summary,
    render_user_page,
    state_value,
)
from bot.rendering.ids import ActionId
from bot.rendering.metadata import ProductChoice
from bot.rendering.modals import product_modal
from bot.rendering.mrkdwn import text_cost
from bot.summary import Summary, summarise
from bot.userlist import MAX_SEARCH_CHARS, UserFilter, UserIndex, UserQuery
from tests.rendering.test_alert_messages import EXAMPLES
from tests.rendering.test_alert_messages import render as render_alert
from tests.rendering.test_blocks import WORST_ALPHABETS, many_users, worst_customer, worst_user
from tests.support.blockkit import assert_valid_blocks

EMAIL = "ada@example.com"
DASH = "\u2013"  # en dash, as in "Users 1\u201320"
TOOLS = SummaryButtons(share=True, escalate=True, list_tools=True)


def elements(message: Message) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in message.blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            found[element["action_id"]] = {**element, "block_id": block.get("block_id")}
    return found


def text_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") in {"mrkdwn", "plain_text"} else []
        return found + [t for value in node.values() for t in text_objects(value)]
    if isinstance(node, list):
        return [t for item in node for t in text_objects(item)]
    return []


def sendable(message: Message) -> None:
    assert check_limits(message) == []
    assert_valid_blocks(message.blocks)


def selected(summary: Summary, search: str | None = None, chosen: UserFilter = UserFilter.ALL):  # type: ignore[no-untyped-def]
    return UserIndex(summary).select(UserQuery(search, chosen))


# --- state in button values ------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        ListState("p", EMAIL),
        ListState("p", EMAIL, 7, UserQuery('grace <!channel> & "x"')),
        ListState("p", EMAIL, 0, UserQuery(None, UserFilter.INACTIVE)),
        ListState("p", EMAIL, 3, UserQuery("a", UserFilter.AT_LIMIT)),
    ],
)
def test_state_values_round_trip_and_hide_slack_control_characters(state: ListState) -> None:
    value = state_value(state)
    assert "<" not in value and ">" not in value and "&" not in value
    assert parse_state_value(value) == state


@pytest.mark.parametrize(
    "value",
    [
        '["p","e",0,"x"]',
        '["p","e",0,"x","nope"]',
        '["p","e",0,5,"all"]',
        '["p","e",-1]',
        "[" * 5000,
    ],
)
def test_malformed_state_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_state_value(value)


def test_old_three_element_values_still_work() -> None:
    assert parse_state_value('["p","e@x.example",2]') == ListState("p", "e@x.example", 2)


def test_a_filter_choice_keeps_the_search_and_starts_at_page_0() -> None:
    block_id = filter_block_id(ListState("p", EMAIL, 9, UserQuery("grace", UserFilter.ACTIVE)))
    assert block_id is not None
    state = parse_filter_choice(block_id, "inactive")
    assert state == ListState("p", EMAIL, 0, UserQuery("grace", UserFilter.INACTIVE))
    with pytest.raises(ValueError):  # noqa: PT011
        parse_filter_choice(block_id, "everything")
    with pytest.raises(ValueError):  # noqa: PT011
        parse_filter_choice("summary_actions", "all")


# --- rendering -------------------------------------------------------------------------------


def test_a_search_keeps_the_totals_and_says_how_many_match() -> None:
    summary = many_users(5_000)
    selection = selected(summary, "user00042")
    message = render_summary(summary, lookup_email=EMAIL, buttons=TOOLS, selection=selection)
    sendable(message)
    text = json.dumps(message.blocks, ensure_ascii=False)
    assert "*Users*\\n5,000" in text
    assert "1 of 5,000 users matches `user00042`." in text
    assert f"Matches 1{DASH}1 of 1" in text
    assert message.text.endswith("1 of 5,000 users matches `user00042`.")
    for action_id in ("share_summary", "escalate", ActionId.EXPORT):
        state = parse_state_value(elements(message)[action_id]["value"])
        assert state.query == UserQuery("user00042")


def test_paging_buttons_of_a_filtered_search_carry_the_query() -> None:
    summary = many_users(5_000)
    selection = selected(summary, "example", UserFilter.ACTIVE)
    assert selection.count > PAGE_SIZE * 3
    message = render_summary(
        summary, lookup_email=EMAIL, page=1, buttons=TOOLS, selection=selection
    )
    sendable(message)
    buttons = elements(message)
    assert parse_state_value(buttons["page_next"]["value"]) == ListState(
        summary.product, EMAIL, 2, UserQuery("example", UserFilter.ACTIVE)
    )
    assert parse_state_value(buttons["page_prev"]["value"]).page == 0
    menu = buttons[ActionId.FILTER]
    assert menu["initial_option"]["value"] == "active"
    assert menu["initial_option"] in menu["options"]


def test_no_match_says_so_without_a_list_or_tools() -> None:
    summary = many_users(50)
    message = render_summary(
        summary, lookup_email=EMAIL, buttons=TOOLS, selection=selected(summary, "zzz")
    )
    sendable(message)
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section" and "text" in b]
    assert ":mag: None of the 50 users match `zzz`." in texts
    assert {"type": "divider"} not in message.blocks
    assert ActionId.EXPORT not in elements(message)
    assert ActionId.FILTER not in elements(message)


def test_the_menu_lists_only_filters_with_users_and_needs_two() -> None:
    one_active = summarise(
        "p", CustomerLicenseUsers(users=(LicenseUser(email="a@x", is_active=True),))
    )
    message = render_summary(one_active, lookup_email=EMAIL, buttons=TOOLS)
    menu = elements(message)[ActionId.FILTER]
    assert [o["value"] for o in menu["options"]] == ["all", "active"]
    assert [o["text"]["text"] for o in menu["options"]] == ["All users (1)", "Active (1)"]


def test_the_search_is_escaped_wherever_it_is_echoed() -> None:
    summary = many_users(30)
    search = "<!channel> <@U1> <https://evil.example|x> & `tick`"
    message = render_summary(
        summary, lookup_email=EMAIL, buttons=TOOLS, selection=selected(summary, search)
    )
    sendable(message)
    shown = [message.text, *(node["text"] for node in text_objects(message.blocks))]
    for text in shown:
        for raw in ("<!channel>", "<@U1>", "<https://", "`tick`"):
            assert raw not in text
    assert any("&lt;!channel&gt;" in text for text in shown)


def test_visible_replies_show_the_sentence_and_a_show_users_button_with_the_query() -> None:
    summary = many_users(30)
    message = render_summary(
        summary,
        lookup_email=EMAIL,
        include_users=False,
        buttons=SummaryButtons(share=False, show_users=True, list_tools=True),
        selection=selected(summary, "user0001"),
    )
    sendable(message)
    assert ActionId.EXPORT not in elements(message)
    value = elements(message)["show_users"]["value"]
    assert parse_state_value(value).query == UserQuery("user0001")


def test_long_product_and_email_drop_the_menu_before_the_buttons() -> None:
    summary = many_users(30)
    email = "e" * 240 + "@x.example"
    message = render_summary(summary, lookup_email=email, buttons=TOOLS)
    sendable(message)
    assert ActionId.FILTER not in elements(message)  # its block_id would pass 255 characters
    assert ActionId.EXPORT in elements(message)


@pytest.mark.parametrize("with_search", [True, False], ids=["search", "no-search"])
@pytest.mark.parametrize("alphabet", WORST_ALPHABETS.values(), ids=WORST_ALPHABETS.keys())
def test_worst_case_page_with_every_tool_stays_within_limits(
    alphabet: str, with_search: bool
) -> None:
    users = [worst_user(alphabet, index) for index in range(PAGE_SIZE * 3)]
    summary = summarise(
        (alphabet * 20)[:20], CustomerLicenseUsers(customer=worst_customer(alphabet), users=users)
    )
    search = (alphabet * MAX_SEARCH_CHARS)[:MAX_SEARCH_CHARS] if with_search else None
    chosen = UserFilter.INITIAL_PASSWORD

    def cost(email: str, search: str | None) -> int:
        return text_cost(
            state_value(ListState(summary.product, email, 2, UserQuery(search, chosen)))
        )

    # The longest search that still leaves room for buttons, then the longest e-mail.
    while search and cost("@", search) > BUTTON_VALUE_BUDGET:
        search = search[:-1]
    email = "@"
    while cost(alphabet + email, search) <= BUTTON_VALUE_BUDGET:
        email = alphabet + email
    index = UserIndex(summary)
    # Every worst user matches a search made of their alphabet.
    selection = index.select(UserQuery(search, chosen))
    message = render_summary(
        summary, lookup_email=email, page=1, buttons=TOOLS, selection=selection
    )
    sendable(message)
    assert len(message.blocks) <= MAX_BLOCKS
    size = block_json_size(message.blocks)
    assert size <= MAX_BLOCK_JSON_CHARS - 600  # room left for one more button (issue 13: Watch)
    assert {"page_prev", "page_next", "share_summary", "escalate", ActionId.EXPORT} <= set(
        elements(message)
    )
    print(f"worst case, tools, search={with_search} ({alphabet!r}): {size} chars")


@pytest.mark.parametrize("alphabet", WORST_ALPHABETS.values(), ids=WORST_ALPHABETS.keys())
def test_a_longest_search_of_the_costliest_characters_still_renders(alphabet: str) -> None:
    summary = many_users(60)
    search = (alphabet * MAX_SEARCH_CHARS)[:MAX_SEARCH_CHARS]
    message = render_summary(
        summary, lookup_email=EMAIL, page=1, buttons=TOOLS, selection=selected(summary, search)
    )
    sendable(message)  # its buttons may be left out when their values would be too long


# --- every message kind passes slack-sdk's models ------------------------------------------


def test_every_message_kind_passes_slack_sdks_block_models() -> None:
    summary = many_users(45)
    one, none = selected(summary, "1"), selected(summary, "zz")
    kinds: list[Message] = [
        render_summary(summary, lookup_email=EMAIL, buttons=TOOLS),
        render_summary(summary, lookup_email=EMAIL, page=2, buttons=TOOLS),
        render_summary(summary, lookup_email=EMAIL, buttons=TOOLS, selection=one),
        render_summary(summary, lookup_email=EMAIL, buttons=TOOLS, selection=none),
        render_summary(summary, lookup_email=EMAIL, include_users=False,
                       buttons=SummaryButtons(share=False, show_users=True)),
        render_summary(summarise("p", CustomerLicenseUsers()), lookup_email=EMAIL, buttons=TOOLS),
        render_user_page(summary, lookup_email=EMAIL, page=1),
        render_user_page(summary, lookup_email=EMAIL, page=0, selection=selected(summary, "2")),
        render_multi_product(EMAIL, [("p1", summary), ("p2", "The lookup failed.")]),
        render_multi_product(EMAIL, [("p1", summary)], UserQuery("grace")),
        render_notice("Something", reference="abc123"),
        *(render_alert(EXAMPLES[kind]) for kind in AlertKind),
    ]  # fmt: skip
    for message in kinds:
        sendable(message)


def test_the_product_modal_passes_slack_sdks_view_model() -> None:
    choice = ProductChoice(channel="C1", emails=(EMAIL,))
    View(**product_modal(["acme-desktop", "acme-cli"], choice)).validate_json()
