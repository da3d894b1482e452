"""Search, the filter menu and CSV export, end to end: signed requests to the real app,
the sandbox License API, and the local fake Slack recording replies and uploads."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from bot.export import COLUMNS, ENCODING
from bot.rendering.blocks import (
    Message,
    check_limits,
    parse_state_value,
)
from bot.rendering.ids import ActionId, BlockId
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.userlist import UserFilter
from tests.slack_harness import BotFactory, RunningBot
from tests.support.blockkit import assert_valid_blocks

PRODUCT = "acme-desktop"
DASH = "\u2013"  # en dash, as in "Users 1\u201320"


def blocks_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("blocks", []), ensure_ascii=False)


def elements_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in body.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found[element["action_id"]] = {**element, "block_id": block.get("block_id")}
        if "accessory" in block:
            found[block["accessory"]["action_id"]] = block["accessory"]
    return found


def assert_sendable(body: dict[str, Any]) -> None:
    assert check_limits(Message(text=body.get("text", ""), blocks=body.get("blocks", []))) == []
    assert_valid_blocks(body["blocks"])


def user_lines(body: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for block in body.get("blocks", []):
        text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
        lines += [line for line in text.split("\n") if " · license " in line]
    return lines


def big_users(sandbox: SandboxState) -> list[dict[str, Any]]:
    body = sandbox.body(PRODUCT, seed.BIG)
    assert body is not None
    return list(body["users"])


def lookups_of(sandbox: SandboxState, email: str) -> int:
    return int(sandbox.stats()["lookups_by_customer"].get(PRODUCT, {}).get(email.lower(), 0))


def answer_to(bot: RunningBot, text: str, **fields: Any) -> dict[str, Any]:
    ack, url = bot.command(text, **fields)
    assert ack.status_code == 200
    body = bot.final_response(url)
    assert_sendable(body)
    return body


# --- search -------------------------------------------------------------------------------


def test_one_user_among_5000_by_email(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    sought = big_users(sandbox)[42]["email"]
    ack, url = bot.command(f"{PRODUCT} {seed.BIG} <mailto:{sought}|{sought}>")
    assert f"matching `{sought}`" in ack.json()["text"]
    body = bot.final_response(url)
    assert_sendable(body)
    text = blocks_text(body)
    assert f"1 of 5,000 users matches `{sought}`." in text
    assert "*Users*\\n5,000" in text  # the customer's totals stay
    [line] = user_lines(body)
    assert sought in line
    assert f"Matches 1{DASH}1 of 1" in text
    print("\nsearch reply text:", body["text"])
    for block in body["blocks"]:
        print(json.dumps(block, ensure_ascii=False)[:300])


def test_several_words_must_all_match_names_case_insensitively(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    users = big_users(sandbox)
    expected = [
        u
        for u in users
        if "greta" in (u["first_name"] + u["email"]).lower()
        and "chen" in (u["last_name"] + u["email"]).lower()
    ]
    assert 1 < len(expected) <= 20
    body = answer_to(start_bot(), f"{PRODUCT} {seed.BIG} GRETA chen")
    assert f"{len(expected)} of 5,000 users match `GRETA chen`." in blocks_text(body)
    listed = {line.split(" · ")[0].split(" ", 1)[1] for line in user_lines(body)}
    assert listed == {u["email"] for u in expected}


def test_paging_filtering_and_export_keep_the_search_and_reuse_one_answer(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    body = answer_to(bot, f"{PRODUCT} {seed.BIG} greta")
    matching = sum(
        "greta" in (u["email"] + u["first_name"] + u["last_name"]).lower()
        for u in big_users(sandbox)
    )
    assert matching > 40
    assert f"{matching:,} of 5,000 users match `greta`." in blocks_text(body)
    next_value = elements_of(body)["page_next"]["value"]
    assert parse_state_value(next_value).query.search == "greta"

    _, url = bot.press("page_next", next_value)
    page2 = bot.final_response(url)
    assert_sendable(page2)
    assert page2["replace_original"] is True
    assert f"Matches 21{DASH}40 of {matching:,} · page 2" in blocks_text(page2)
    assert all("greta" in line.lower() for line in user_lines(page2))

    menu = elements_of(page2)[ActionId.FILTER]
    options = {o["value"]: o["text"]["text"] for o in menu["options"]}
    assert options["all"] == f"All matches ({matching:,})"
    inactive = int(options["inactive"].rsplit("(", 1)[1].rstrip(")"))
    _, url = bot.choose(ActionId.FILTER, menu["block_id"], "inactive")
    filtered = bot.final_response(url)
    assert_sendable(filtered)
    assert filtered["replace_original"] is True
    assert f"{inactive} of 5,000 users match `greta` and are inactive." in blocks_text(filtered)
    assert all(":white_circle:" in line for line in user_lines(filtered))
    assert elements_of(filtered)[ActionId.FILTER]["initial_option"]["value"] == "inactive"

    export = elements_of(filtered)[ActionId.EXPORT]
    _, url = bot.press(ActionId.EXPORT, export["value"], user_id="U777")
    [upload] = bot.slack.wait_for_uploads(1, timeout=10)
    rows = list(csv.reader(io.StringIO(upload.content.decode(ENCODING))))
    assert len(rows) == inactive + 1
    assert all(row[3] == "false" for row in rows[1:])
    assert "search-greta" in upload.filename
    assert "inactive" in upload.filename
    assert lookups_of(sandbox, seed.BIG) == 1  # search, page, filter and export: one call


def test_a_search_matching_nothing_says_so(start_bot: BotFactory, sandbox: SandboxState) -> None:
    body = answer_to(start_bot(), f"{PRODUCT} {seed.BIG} nobody-like-this")
    text = blocks_text(body)
    assert ":mag: None of the 5,000 users match `nobody-like-this`." in text
    assert user_lines(body) == []
    assert ActionId.EXPORT not in elements_of(body)
    assert "None of the 5,000 users match" in body["text"]


def test_a_1000_character_search_is_refused_before_any_lookup(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    ack, _ = bot.command(f"{PRODUCT} {seed.BIG} " + "x" * 1_000)
    assert ack.json()["response_type"] == "ephemeral"
    assert "The search is 1,000 characters long; keep it to 100" in ack.json()["text"]
    assert lookups_of(sandbox, seed.BIG) == 0


def test_slack_control_sequences_in_a_search_are_searched_and_never_echoed_raw(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    # With should_escape Slack sends `<!channel>` as typed; `&lt;` for a typed `<`.
    bot = start_bot()
    for text in ("<!channel>", "&lt;!channel&gt;", "\x07<!channel>\x1b"):
        ack, url = bot.command(f"{PRODUCT} {seed.MISCHIEF} {text}")
        assert "<!channel>" not in ack.json()["text"]
        body = bot.final_response(url)
        assert_sendable(body)
        sent = json.dumps(body, ensure_ascii=False)
        assert "<!channel>" not in sent
        assert "\x07" not in sent
        assert "\x1b" not in sent
        assert "1 of 7 users matches `&lt;!channel&gt;" in sent
        assert len(user_lines(body)) == 1


def test_a_search_in_a_mention_reports_matches_and_shows_them_privately(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    assert bot.mention(f"{PRODUCT} {seed.TYPICAL} lovelace").status_code == 200
    [post] = bot.slack.wait_for_calls("chat.postMessage", timeout=10)
    assert "1 of 8 users matches `lovelace`." in json.dumps(post.args["blocks"])
    assert_valid_blocks(post.args["blocks"])
    show = elements_of({"blocks": post.args["blocks"]})["show_users"]
    _, url = bot.press("show_users", show["value"])
    listed = bot.final_response(url)
    assert_sendable(listed)
    [line] = user_lines(listed)
    assert "ada.lovelace@analytical.example" in line


# --- filter menu -------------------------------------------------------------------------


def test_filter_menu_counts_and_paging_inside_a_filter(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    body = answer_to(bot, f"{PRODUCT} {seed.BIG}")
    users = big_users(sandbox)
    # Every user on the initial password, inactive ones included (as the summary counts them).
    initial = sum(1 for u in users if u["is_initial_password"])
    menu = elements_of(body)[ActionId.FILTER]
    labels = [o["text"]["text"] for o in menu["options"]]
    assert labels[0] == "All users (5,000)"
    assert f"On initial password ({initial:,})" in labels
    assert menu["block_id"].startswith(f"{BlockId.LIST_TOOLS}:")
    _, url = bot.choose(ActionId.FILTER, menu["block_id"], UserFilter.INITIAL_PASSWORD.value)
    page1 = bot.final_response(url)
    assert_sendable(page1)
    assert f"{initial:,} of 5,000 users are on the initial password." in blocks_text(page1)
    assert all("initial password" in line for line in user_lines(page1))
    _, url = bot.press("page_next", elements_of(page1)["page_next"]["value"])
    page2 = bot.final_response(url)
    assert f"Matches 21{DASH}40 of {initial:,}" in blocks_text(page2)
    assert all("initial password" in line for line in user_lines(page2))
    assert lookups_of(sandbox, seed.BIG) == 1


def test_filter_menu_shows_only_filters_that_have_users(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    body = answer_to(start_bot(), f"{PRODUCT} {seed.ALL_INACTIVE}")
    values = [o["value"] for o in elements_of(body)[ActionId.FILTER]["options"]]
    assert values == ["all", "initpw", "inactive"] or values == ["all", "inactive"]
    assert "active" not in values
    assert "limit" not in values


def test_a_stale_filter_menu_gets_the_stale_button_reply(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    _, url = bot.choose(ActionId.FILTER, f"{BlockId.LIST_TOOLS}:not json", "inactive")
    assert "no longer valid" in bot.final_response(url)["text"]


# --- export ------------------------------------------------------------------------------

INJECTION_CUSTOMER = "formulas@example.com"


def injection_users() -> list[dict[str, Any]]:
    rows = [
        ("=cmd@formulas.example", '=HYPERLINK("http://evil")', "+1+1"),
        ("plain@formulas.example", "-2", "@SUM(A1)"),
        ("tab@formulas.example", "\tTabbed", "\rReturn"),
        ("quote@formulas.example", 'Say "hi", ok', "Zoë"),
    ]
    users = []
    for email, first, last in rows:
        user = seed.license_user(email, first, last, initial_password=True)
        user["initial_password"] = "pw-never-exported-" + email[:3]
        users.append(user)
    return users


def test_export_uploads_all_users_to_the_dm_as_safe_csv(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: Any
) -> None:
    sandbox.set_users(PRODUCT, INJECTION_CUSTOMER, injection_users())
    bot = start_bot()
    body = answer_to(bot, f"{PRODUCT} {INJECTION_CUSTOMER}")
    _, url = bot.press(ActionId.EXPORT, elements_of(body)[ActionId.EXPORT]["value"], user_id="U42")
    reply = bot.final_response(url)
    [upload] = fake_slack.wait_for_uploads(1, timeout=10)
    assert upload.channel_id == "D42"  # conversations.open(users=U42)
    assert fake_slack.calls("conversations.open")[0].args["users"] == "U42"
    assert fake_slack.calls("files.upload") == []
    assert upload.filename.startswith("license-users_acme-desktop_formulas@example.com_")
    assert upload.filename.endswith(".csv")
    assert f"Sent `{upload.filename}` (4 users)" in reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert upload.declared_length == len(upload.content)
    text = upload.content.decode(ENCODING)
    assert "pw-never-exported" not in text
    assert 'initial_password"' not in text.splitlines()[0].replace("is_initial_password", "")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["'=cmd@formulas.example"][1:3] == ['\'=HYPERLINK("http://evil")', "'+1+1"]
    assert by_email["plain@formulas.example"][1:3] == ["'-2", "'@SUM(A1)"]
    assert by_email["tab@formulas.example"][1:3] == ["'\tTabbed", "'\rReturn"]
    assert by_email["quote@formulas.example"][1:3] == ['Say "hi", ok', "Zoë"]
    for row in rows[1:]:
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
    print("\nexported CSV:\n" + "\n".join(text.splitlines()[:3]))


def test_export_is_an_audit_row_with_the_number_of_rows(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: Any, store_url: str
) -> None:
    from tests.slack.threads.test_threads import audit_rows, wait_until

    bot = start_bot(database_url=store_url)
    body = answer_to(bot, f"{PRODUCT} {seed.TYPICAL}")
    _, url = bot.press(ActionId.EXPORT, elements_of(body)[ActionId.EXPORT]["value"])
    bot.final_response(url)
    wait_until(lambda: any(row.action == "export" for row in audit_rows(store_url)))
    [export] = [row for row in audit_rows(store_url) if row.action == "export"]
    assert export.outcome == "uploaded"
    assert export.detail == "8 rows"
    assert export.product == PRODUCT
    assert export.customer_email == seed.TYPICAL
    assert export.slack_user == "U111"


@pytest.mark.parametrize(
    ("method", "error", "expected"),
    [
        ("files.getUploadURLExternal", "missing_scope", "lacks the `files:write` or `im:write`"),
        ("files.completeUploadExternal", "not_allowed_token_type", "SLACK_BOT_TOKEN"),
        ("conversations.open", "missing_scope", "reinstall it from `manifest.yml`"),
    ],
)
def test_slack_refusing_the_export_gets_a_clear_reply(
    start_bot: BotFactory,
    sandbox: SandboxState,
    fake_slack: Any,
    method: str,
    error: str,
    expected: str,
) -> None:
    bot = start_bot()
    body = answer_to(bot, f"{PRODUCT} {seed.TYPICAL}")
    fake_slack.fail_next(method, error=error)
    _, url = bot.press(ActionId.EXPORT, elements_of(body)[ActionId.EXPORT]["value"])
    reply = bot.final_response(url)
    assert expected in reply["text"]
    assert fake_slack.uploads() == []


def test_the_upload_url_refusing_the_bytes_gets_a_clear_reply(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: Any
) -> None:
    bot = start_bot()
    body = answer_to(bot, f"{PRODUCT} {seed.TYPICAL}")
    fake_slack.fail_uploads(500, times=5)
    _, url = bot.press(ActionId.EXPORT, elements_of(body)[ActionId.EXPORT]["value"])
    assert "Slack refused the file upload" in bot.final_response(url)["text"]
    assert fake_slack.uploads() == []
    assert fake_slack.calls("files.completeUploadExternal") == []


# --- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["export", "filter"])
def test_a_refused_user_gets_no_file_and_no_lookup(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: Any, surface: str
) -> None:
    bot = start_bot(allowed_user_ids=["U111"])
    body = answer_to(bot, f"{PRODUCT} {seed.TYPICAL}")
    before = lookups_of(sandbox, seed.TYPICAL)
    tools = elements_of(body)
    if surface == "export":
        ack, url = bot.press(ActionId.EXPORT, tools[ActionId.EXPORT]["value"], user_id="U999")
    else:
        menu = tools[ActionId.FILTER]
        ack, url = bot.choose(ActionId.FILTER, menu["block_id"], "active", user_id="U999")
    assert ack.status_code == 200
    assert "not allowed" in bot.final_response(url)["text"]
    assert fake_slack.uploads() == []
    assert fake_slack.calls("files.getUploadURLExternal") == []
    assert lookups_of(sandbox, seed.TYPICAL) == before


def test_a_too_long_search_in_a_mention_gets_a_clear_reply_in_the_thread(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.mention(f"{PRODUCT} {seed.BIG} " + "<!channel>" * 100, event_id="EvLong")
    [post] = bot.slack.wait_for_calls("chat.postMessage", timeout=10)
    sent = json.dumps(post.args["blocks"])
    assert "The search is 1,000 characters long" in sent
    assert "<!channel>" not in sent
    assert lookups_of(sandbox, seed.BIG) == 0


def test_the_manifest_asks_for_the_export_scopes() -> None:
    from tests.test_manifest import manifest

    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert {"files:write", "im:write"} <= set(scopes)
