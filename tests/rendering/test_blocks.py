"""Block Kit rendering: content, paging, limits, escaping, button values, terminal view."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.demo.terminal import BLOCK_KIT_BUILDER_URL, block_kit_builder_url, render_for_terminal
from bot.licensespring.models import (
    Customer,
    CustomerLicenseUsers,
    LicenseUser,
    parse_customer_license_users,
)
from bot.rendering.blocks import (
    BUTTON_VALUE_BUDGET,
    MAX_BLOCK_JSON_CHARS,
    PAGE_SIZE,
    Message,
    SummaryButtons,
    block_json_size,
    button_value,
    check_limits,
    page_count,
    parse_button_value,
    render_multi_product,
    render_notice,
    render_summary,
)
from bot.rendering.mrkdwn import text_cost
from bot.summary import Summary, summarise

EMAIL = "ada@example.com"
PRODUCT = "engine"
DASH = "\u2013"  # en dash, as in "Users 21\u201340"
ASTRAL_X = "\U0001d54f"  # outside the BMP: two UTF-16 units
MISCHIEF = ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|click>", "&")

ADA = Customer(
    email=EMAIL, first_name="Ada", last_name="Lovelace", company_name="Analytical Engines Ltd"
)


def user(
    email: str,
    *,
    active: bool = True,
    initial_password: bool = False,
    used: int | None = 1,
    maximum: int | None = 3,
    **extra: Any,
) -> LicenseUser:
    return LicenseUser(
        email=email,
        is_active=active,
        is_initial_password=initial_password,
        total_activations=used,
        max_activations=maximum,
        **extra,
    )


def summary_of(*users: LicenseUser, customer: Customer = ADA, product: str = PRODUCT) -> Summary:
    return summarise(product, CustomerLicenseUsers(customer=customer, users=users))


def eight_users() -> Summary:
    """8 users, 6 active, 21/29 activations (active users 12/20), 1 at limit, 1 on initial
    password."""
    return summary_of(
        user("zed@example.com", used=4, maximum=4, first_name="Zed", license_id=7, order_id=70),
        user("pat@example.com", initial_password=True, used=2, maximum=4),
        user("amy@example.com", used=2, maximum=3),
        user("bob@example.com", used=2, maximum=3),
        user("cat@example.com", used=1, maximum=3),
        user("dan@example.com", used=1, maximum=3),
        user("old1@example.com", active=False, used=9, maximum=9),
        user("old2@example.com", active=False, used=None, maximum=None),
    )


def many_users(count: int) -> Summary:
    users = [
        user(
            f"user{index:05}@example.com",
            active=index % 7 != 0,
            initial_password=index % 11 == 0,
            used=index % 4,
            maximum=3,
            license_id=index,
            order_id=index * 10,
        )
        for index in range(count)
    ]
    return summary_of(*users)


def text_objects(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every text object anywhere in the blocks."""
    for node in _walk(blocks):
        if isinstance(node, dict) and node.get("type") in {"mrkdwn", "plain_text"}:
            yield node


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def buttons_of(message: Message) -> dict[str, dict[str, Any]]:
    return {
        node["action_id"]: node
        for node in _walk(message.blocks)
        if isinstance(node, dict) and node.get("type") == "button"
    }


def all_json(message: Message) -> str:
    return json.dumps({"text": message.text, "blocks": message.blocks}, ensure_ascii=False)


def assert_sendable(message: Message) -> None:
    assert check_limits(message) == []


# ------------------------------------------------------------------------------------------
# Content


def test_counts_and_fallback_text() -> None:
    summary = eight_users()
    message = render_summary(summary, lookup_email=EMAIL)
    assert_sendable(message)
    assert message.text == (
        "Ada Lovelace · Analytical Engines Ltd (ada@example.com), engine: 8 users, 6 active, "
        "21/29 activations (72%; active users 12/20), 1 at limit (and 1 inactive), "
        "1 on initial password"
    )
    header, identity, overview = message.blocks[:3]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Ada Lovelace · Analytical Engines Ltd",
            "emoji": True,
        },
    }
    identity_texts = [element["text"] for element in identity["elements"]]
    assert identity_texts == [EMAIL, "Company: Analytical Engines Ltd", "Product: *engine*"]
    fields = [field["text"] for field in overview["fields"]]
    assert fields == [
        "*Users*\n8",
        "*Active*\n6",
        "*Inactive*\n2",
        "*Activations*\n21 / 29 (72%)\n▰▰▰▰▰▰▰▱▱▱\nActive users: 12 / 20 (60%)\n"
        "1 user without a maximum",
        # old1 holds 9 of 9 but is inactive: named apart, it cannot activate anyway.
        "*At activation limit*\n:no_entry: 1 (and 1 inactive)",
        "*On initial password*\n:warning: 1",
    ]


def test_users_are_listed_problems_first() -> None:
    message = render_summary(eight_users(), lookup_email=EMAIL)
    lines = user_lines(message)
    assert [line.split(" · ")[0] for line in lines] == [
        ":no_entry: zed@example.com",
        ":warning: pat@example.com",
        ":large_green_circle: amy@example.com",
        ":large_green_circle: bob@example.com",
        ":large_green_circle: cat@example.com",
        ":large_green_circle: dan@example.com",
        ":white_circle: old1@example.com",
        ":white_circle: old2@example.com",
    ]
    assert lines[0] == (
        ":no_entry: zed@example.com · Zed · at activation limit · activations 4/4 ▰▰▰▰▰"
        " · license 7 · order 70"
    )
    assert lines[-1] == (
        ":white_circle: old2@example.com · — · inactive · activations — · license — · order —"
    )
    assert page_caption(message) == f"Users 1{DASH}8 of 8"


def user_lines(message: Message) -> list[str]:
    divider = message.blocks.index({"type": "divider"})
    sections = [block for block in message.blocks[divider + 1 :] if block["type"] == "section"]
    return [line for block in sections for line in block["text"]["text"].split("\n")]


def page_caption(message: Message) -> str:
    contexts = [block for block in message.blocks if block["type"] == "context"]
    return str(contexts[-1]["elements"][0]["text"])


def test_zero_users() -> None:
    message = render_summary(summary_of(), lookup_email=EMAIL)
    assert_sendable(message)
    overview = message.blocks[2]
    assert overview["text"]["text"] == "No license users for this customer in *engine*."
    assert {"type": "divider"} not in message.blocks
    assert message.text.endswith("engine: no license users")
    assert set(buttons_of(message)) == {"share_summary"}


def test_inactive_users_count_in_the_headline_and_their_share_is_labelled() -> None:
    # 17 users hold 37 of 69 activations; the 6 inactive ones hold 8 of 20.
    active = [user(f"a{i:02}@example.com", used=3, maximum=5) for i in range(9)]
    active += [user(f"b{i}@example.com", used=1, maximum=2) for i in range(2)]
    inactive = [user(f"i{i}@example.com", active=False, used=2, maximum=5) for i in range(4)]
    inactive += [
        user("i4@example.com", active=False, used=0, maximum=0, initial_password=True),
        user("i5@example.com", active=False, used=None, maximum=None),
    ]
    message = render_summary(summary_of(*active, *inactive), lookup_email=EMAIL)
    assert_sendable(message)
    fields = [field["text"] for field in message.blocks[2]["fields"]]
    assert fields[3] == (
        "*Activations*\n37 / 69 (54%)\n▰▰▰▰▰▱▱▱▱▱\nActive users: 29 / 49 (59%)\n"
        "2 users without a maximum"
    )
    assert fields[5] == "*On initial password*\n:warning: 1 (1 inactive)"
    assert "37/69 activations (54%; active users 29/49)" in message.text
    assert "1 on initial password (1 inactive)" in message.text
    assert "i4@example.com · — · inactive, initial password" in "\n".join(user_lines(message))


def test_all_inactive() -> None:
    summary = summary_of(user("a@example.com", active=False), user("b@example.com", active=False))
    message = render_summary(summary, lookup_email=EMAIL)
    assert_sendable(message)
    fields = [field["text"] for field in message.blocks[2]["fields"]]
    assert "*Active*\n0" in fields
    assert "*Inactive*\n2" in fields
    # The headline counts every license user; the active users' share says none are active.
    assert "*Activations*\n2 / 6 (33%)\n▰▰▰▱▱▱▱▱▱▱\nActive users: none" in fields
    assert all(line.startswith(":white_circle:") for line in user_lines(message))


def test_missing_fields_and_unknown_maximum() -> None:
    summary = summary_of(
        LicenseUser(is_active=True, total_activations=12),
        customer=Customer(),
    )
    message = render_summary(summary, lookup_email=EMAIL)
    assert_sendable(message)
    assert message.blocks[0]["text"]["text"] == EMAIL  # header falls back to the e-mail
    assert message.blocks[1]["elements"][0]["text"] == EMAIL
    assert "*Activations*\n12 used, maximum unknown" in [
        field["text"] for field in message.blocks[2]["fields"]
    ]
    assert user_lines(message) == [
        ":large_green_circle: — · — · active · activations 12/— · license — · order —"
    ]
    assert "12 activations (maximum unknown)" in message.text


def test_some_users_without_maximum_are_counted() -> None:
    summary = summary_of(
        user("a@example.com", used=1, maximum=2), user("b@example.com", maximum=None)
    )
    activations = render_summary(summary, lookup_email=EMAIL).blocks[2]["fields"][3]["text"]
    assert activations == "*Activations*\n2 / 2 (100%)\n▰▰▰▰▰▰▰▰▰▰\n1 user without a maximum"


def test_title_uses_company_alone_and_order_store_id() -> None:
    summary = summary_of(
        user("a@example.com", order_store_id="WC-1", order_id=5, license_id=9),
        user("b@example.com", order_store_id="WC-2"),
        customer=Customer(email=EMAIL, company_name="Analytical Engines Ltd"),
    )
    message = render_summary(summary, lookup_email=EMAIL)
    assert message.blocks[0]["text"]["text"] == "Analytical Engines Ltd"
    lines = user_lines(message)
    assert lines[0].endswith("license 9 · order 5 (WC-1)")
    assert lines[1].endswith("license — · order WC-2")


def test_without_users_list() -> None:
    message = render_summary(many_users(100), lookup_email=EMAIL, include_users=False, page=2)
    assert_sendable(message)
    assert {"type": "divider"} not in message.blocks
    assert set(buttons_of(message)) == {"share_summary"}


def test_buttons_follow_flags() -> None:
    summary = eight_users()
    assert set(buttons_of(render_summary(summary, lookup_email=EMAIL))) == {"share_summary"}
    both = render_summary(summary, lookup_email=EMAIL, buttons=SummaryButtons(escalate=True))
    assert set(buttons_of(both)) == {"share_summary", "escalate"}
    assert both.blocks[-1]["block_id"] == "summary_actions"
    none = render_summary(summary, lookup_email=EMAIL, buttons=SummaryButtons(share=False))
    assert buttons_of(none) == {}
    assert none.blocks[-1]["type"] == "context"


def test_button_values_carry_the_lookup_email() -> None:
    summary = summary_of(user("x@example.com"), customer=Customer(email="other@example.com"))
    message = render_summary(summary, lookup_email="Asked@Example.com")
    value = buttons_of(message)["share_summary"]["value"]
    assert parse_button_value(value) == (PRODUCT, "Asked@Example.com", 0)


def test_initial_password_never_rendered() -> None:
    body = json.dumps(
        {
            "customer": {"email": EMAIL, "initial_password": "cust-secret-1"},
            "users": [
                {"email": "a@example.com", "is_active": True, "initial_password": "hunter2-xyz"},
                {"email": "b@example.com", "password": "pw-secret-2", "is_initial_password": True},
            ],
        }
    )
    summary = summarise(PRODUCT, parse_customer_license_users(body))
    for message in (
        render_summary(summary, lookup_email=EMAIL),
        render_multi_product(EMAIL, [(PRODUCT, summary)]),
    ):
        rendered = all_json(message) + render_for_terminal(message)
        for secret in ("cust-secret-1", "hunter2-xyz", "pw-secret-2"):
            assert secret not in rendered


# ------------------------------------------------------------------------------------------
# Paging


def test_every_page_of_a_5000_user_customer() -> None:
    summary = many_users(5_000)
    pages = page_count(summary)
    assert pages == 5_000 // PAGE_SIZE
    for page in range(pages):
        message = render_summary(summary, lookup_email=EMAIL, page=page)
        assert_sendable(message)
        first, last = page * PAGE_SIZE + 1, (page + 1) * PAGE_SIZE
        assert page_caption(message) == (
            f"Users {first:,}{DASH}{last:,} of 5,000 · page {page + 1:,} of {pages:,}"
        )
        assert len(user_lines(message)) == PAGE_SIZE
        buttons = buttons_of(message)
        assert ("page_prev" in buttons) == (page > 0)
        assert ("page_next" in buttons) == (page < pages - 1)
        if page > 0:
            assert parse_button_value(buttons["page_prev"]["value"]) == (PRODUCT, EMAIL, page - 1)
        if page < pages - 1:
            assert parse_button_value(buttons["page_next"]["value"]) == (PRODUCT, EMAIL, page + 1)
        assert parse_button_value(buttons["share_summary"]["value"]) == (PRODUCT, EMAIL, page)


def test_page_21_40_caption() -> None:
    message = render_summary(many_users(5_000), lookup_email=EMAIL, page=1)
    assert page_caption(message) == f"Users 21{DASH}40 of 5,000 · page 2 of 250"


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (1, 1), (PAGE_SIZE, 1), (PAGE_SIZE + 1, 2)])
def test_page_count(count: int, pages: int) -> None:
    assert page_count(many_users(count)) == pages


def test_out_of_range_pages_are_clamped() -> None:
    summary = many_users(45)
    last = render_summary(summary, lookup_email=EMAIL, page=99)
    assert page_caption(last) == f"Users 41{DASH}45 of 45 · page 3 of 3"
    assert "page_next" not in buttons_of(last)
    first = render_summary(summary, lookup_email=EMAIL, page=-3)
    assert page_caption(first) == f"Users 1{DASH}20 of 45 · page 1 of 3"


def test_a_page_of_a_50000_user_summary_renders() -> None:
    summary = many_users(50_000)
    message = render_summary(summary, lookup_email=EMAIL, page=1_234)
    assert_sendable(message)
    assert page_caption(message) == f"Users 24,681{DASH}24,700 of 50,000 · page 1,235 of 2,500"


# ------------------------------------------------------------------------------------------
# Worst case: the largest page the bot can produce


WORST_ALPHABETS = {
    "ampersands": "&",
    "quotes": '"',
    "backslashes": "\\",
    "astral": ASTRAL_X,
    "angles": "<>",
    "mixed": '&"<\\' + ASTRAL_X,
}


def worst_user(alphabet: str, index: int) -> LicenseUser:
    text = (alphabet * 1_000)[:1_000]
    return LicenseUser(
        email=text + str(index),
        first_name=text,
        last_name=text,
        phone_number=text,
        is_active=True,
        is_initial_password=True,
        license_id=-(10**40),
        order_id=-(10**40),
        order_store_id=text,
        max_activations=10**40,
        total_activations=10**41,
    )


def worst_customer(alphabet: str) -> Customer:
    text = (alphabet * 1_000)[:1_000]
    return Customer(
        email=text,
        first_name=text,
        last_name=text,
        company_name=text,
        phone=text,
        reference=text,
        customer_account=text,
    )


def longest_affordable_email(product: str, alphabet: str, page: int) -> str:
    """The longest lookup e-mail made of `alphabet` that still gets buttons."""
    email = "@"
    while True:
        longer = alphabet[len(email) % len(alphabet)] + email
        if text_cost(button_value(product, longer, page)) > BUTTON_VALUE_BUDGET:
            return email
        email = longer


@pytest.mark.parametrize("alphabet", WORST_ALPHABETS.values(), ids=WORST_ALPHABETS.keys())
def test_worst_case_full_page_stays_within_limits(alphabet: str) -> None:
    users = [worst_user(alphabet, index) for index in range(PAGE_SIZE * 3)]
    product = (alphabet * 20)[:20]
    summary = summary_of(*users, customer=worst_customer(alphabet), product=product)
    page = 1
    lookup_email = longest_affordable_email(product, alphabet, page + 1)
    message = render_summary(
        summary,
        lookup_email=lookup_email,
        page=page,
        buttons=SummaryButtons(share=True, escalate=True, watch=True),
    )
    assert_sendable(message)
    assert len(user_lines(message)) == PAGE_SIZE
    assert set(buttons_of(message)) == {
        "page_prev",
        "page_next",
        "share_summary",
        "escalate",
        "watch_open",
    }
    size = block_json_size(message.blocks)
    assert size <= MAX_BLOCK_JSON_CHARS
    print(f"worst-case block JSON ({alphabet!r}): {size} chars, {len(message.blocks)} blocks")


def test_lookup_keys_too_long_for_buttons_drop_the_buttons() -> None:
    message = render_summary(many_users(60), lookup_email='"' * 1_000 + "@x", page=1)
    assert_sendable(message)
    assert buttons_of(message) == {}


# ------------------------------------------------------------------------------------------
# Escaping


def mischief_summary(text: str) -> Summary:
    mischief_user = LicenseUser(
        email=text,
        first_name=text,
        last_name=text,
        order_store_id=text,
        is_active=True,
        max_activations=2,
        total_activations=1,
    )
    customer = Customer(email=text, first_name=text, last_name=text, company_name=text)
    return summary_of(mischief_user, customer=customer, product=text)


@pytest.mark.parametrize("text", [*MISCHIEF, " ".join(MISCHIEF)])
def test_mischief_never_appears_unescaped(text: str) -> None:
    summary = mischief_summary(text)
    messages = [
        render_summary(summary, lookup_email=text, buttons=SummaryButtons(escalate=True)),
        render_summary(summary, lookup_email=EMAIL),
        render_multi_product(text, [(text, summary), ("other", "The lookup failed.")]),
    ]
    for message in messages:
        assert_sendable(message)
        rendered = all_json(message)
        for fragment in ("<!", "<@", "<http"):
            assert fragment not in rendered


def test_ampersand_is_escaped_once() -> None:
    summary = mischief_summary("Tom & Jerry")
    message = render_summary(summary, lookup_email=EMAIL)
    assert message.blocks[0]["text"]["text"] == "Tom &amp; Jerry Tom &amp; Jerry · Tom &amp; Jerry"
    assert "Tom &amp; Jerry" in user_lines(message)[0]
    assert "&amp;amp;" not in all_json(message)


def test_newlines_in_data_do_not_break_lines() -> None:
    summary = summary_of(user("a@example.com\n:warning: fake line", first_name="A\nB"))
    lines = user_lines(render_summary(summary, lookup_email=EMAIL))
    assert len(lines) == 1
    assert "a@example.com :warning: fake line · A B · active" in lines[0]


data_text = st.text(max_size=300)
user_strategy = st.builds(
    LicenseUser,
    email=data_text,
    first_name=data_text,
    last_name=data_text,
    phone_number=data_text,
    order_store_id=data_text,
    is_active=st.booleans(),
    is_initial_password=st.booleans(),
    license_id=st.none() | st.integers(),
    order_id=st.none() | st.integers(),
    max_activations=st.none() | st.integers(),
    total_activations=st.none() | st.integers(),
)
customer_strategy = st.builds(
    Customer,
    email=data_text,
    first_name=data_text,
    last_name=data_text,
    company_name=data_text,
    phone=data_text,
    reference=data_text,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer=customer_strategy,
    users=st.lists(user_strategy, max_size=PAGE_SIZE + 5),
    product=data_text,
    lookup_email=data_text,
    page=st.integers(min_value=0, max_value=2),
    include_users=st.booleans(),
)
def test_any_data_renders_within_limits_and_escaped(
    customer: Customer,
    users: list[LicenseUser],
    product: str,
    lookup_email: str,
    page: int,
    include_users: bool,
) -> None:
    summary = summary_of(*users, customer=customer, product=product)
    message = render_summary(
        summary,
        lookup_email=lookup_email,
        page=page,
        include_users=include_users,
        buttons=SummaryButtons(share=True, escalate=True, watch=True),
    )
    assert check_limits(message) == []
    # The bot writes no '<' or '>' of its own in these messages: any would be data.
    for text_object in text_objects(message.blocks):
        assert "<" not in text_object["text"]
        assert ">" not in text_object["text"]
    assert "<" not in message.text
    assert ">" not in message.text
    for button in buttons_of(message).values():
        assert not {"<", ">", "&"} & set(button["value"])
        assert parse_button_value(button["value"])[:2] == (product, lookup_email)


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(
    lookup_email=data_text,
    results=st.lists(
        st.tuples(
            data_text,
            st.one_of(st.text(max_size=600), st.builds(summary_of, customer=customer_strategy)),
        ),
        max_size=60,
    ),
)
def test_any_multi_product_result_is_within_limits(
    lookup_email: str, results: list[tuple[str, Summary | str]]
) -> None:
    message = render_multi_product(lookup_email, results)
    assert check_limits(message) == []


# ------------------------------------------------------------------------------------------
# Button values


@pytest.mark.parametrize(
    ("product", "email", "page"),
    [(PRODUCT, EMAIL, 0), ("p", "<mailto:a@b.c|a@b.c>", 7), ('q"\\', "ü@é.example", 10**6)],
)
def test_button_value_round_trip(product: str, email: str, page: int) -> None:
    value = button_value(product, email, page)
    assert parse_button_value(value) == (product, email, page)
    assert not {"<", ">", "&", " "} & set(value)


def test_button_value_is_compact_json() -> None:
    assert button_value("engine", EMAIL, 3) == '["engine","ada@example.com",3]'


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "{}",
        "[]",
        '["engine","ada@example.com"]',
        '["engine","ada@example.com",1,2]',
        '["engine","ada@example.com",-1]',
        '["engine","ada@example.com",1.5]',
        '["engine","ada@example.com",true]',
        '["engine","ada@example.com","1"]',
        '["engine","ada@example.com",NaN]',
        '["engine",null,1]',
        '[1,"ada@example.com",1]',
        '["","ada@example.com",1]',
        '["engine","",1]',
        '{"p":"engine","e":"ada@example.com","n":1}',
        "[" * 5_000,
        "[" * 1_500,
        '["engine","' + "a" * 2_000 + '",1]',
    ],
)
def test_parse_button_value_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - ValueError is the contract
        parse_button_value(value)


@pytest.mark.parametrize(
    ("product", "email", "page"),
    [("", EMAIL, 0), (PRODUCT, "", 0), (PRODUCT, EMAIL, -1), (PRODUCT, "a" * 2_000, 0)],
)
def test_button_value_rejects_bad_input(product: str, email: str, page: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - ValueError is the contract
        button_value(product, email, page)


@given(
    st.text(min_size=1, max_size=200),
    st.text(min_size=1, max_size=300),
    st.integers(min_value=0, max_value=10**12),
)
def test_button_value_round_trips_any_key(product: str, email: str, page: int) -> None:
    assert parse_button_value(button_value(product, email, page)) == (product, email, page)


@given(st.text(max_size=2_100))
def test_parse_button_value_never_fails_otherwise(value: str) -> None:
    try:
        product, email, page = parse_button_value(value)
    except ValueError:
        return
    assert isinstance(product, str)
    assert isinstance(email, str)
    assert isinstance(page, int)
    assert product
    assert email
    assert page >= 0


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=10,
    )
)
def test_parse_button_value_rejects_wrong_shapes(decoded: Any) -> None:
    value = json.dumps(decoded)
    shaped = (
        isinstance(decoded, list)
        and len(decoded) == 3
        and isinstance(decoded[0], str)
        and decoded[0] != ""
        and isinstance(decoded[1], str)
        and decoded[1] != ""
        and type(decoded[2]) is int
        and decoded[2] >= 0
    )
    if shaped:
        assert parse_button_value(value) == tuple(decoded)
    else:
        with pytest.raises(ValueError):  # noqa: PT011 - ValueError is the contract
            parse_button_value(value)


# ------------------------------------------------------------------------------------------
# Several products


def test_multi_product_with_errors_and_successes() -> None:
    results: list[tuple[str, Summary | str]] = [
        ("engine", eight_users()),
        ("loom", ":x: LicenseSpring has no product `loom`."),
        ("mill", summary_of(customer=ADA, product="mill")),
    ]
    message = render_multi_product(EMAIL, results)
    assert_sendable(message)
    assert message.blocks[0]["text"]["text"] == "License users for ada@example.com"
    texts = [block["text"]["text"] for block in message.blocks[1:]]
    assert texts == [
        "*engine* · Ada Lovelace · Analytical Engines Ltd\n8 users, 6 active, "
        "21/29 activations (72%; active users 12/20), 1 at limit (and 1 inactive), "
        "1 on initial password",
        "*loom*\n:x: LicenseSpring has no product `loom`.",
        "*mill* · Ada Lovelace · Analytical Engines Ltd\nNo license users",
    ]
    buttons = buttons_of(message)
    assert set(buttons) == {"show_users_0", "show_users_2"}
    assert buttons["show_users_0"]["text"]["text"] == "Show users (engine)"
    assert parse_button_value(buttons["show_users_0"]["value"]) == ("engine", EMAIL, 0)
    assert parse_button_value(buttons["show_users_2"]["value"]) == ("mill", EMAIL, 0)
    assert "engine: 8 users" in message.text
    assert "loom: :x: LicenseSpring has no product `loom`." in message.text


def test_multi_product_says_how_many_more() -> None:
    results: list[tuple[str, Summary | str]] = [
        (f"product-{index}", eight_users()) for index in range(120)
    ]
    message = render_multi_product(EMAIL, results)
    assert_sendable(message)
    shown = [block for block in message.blocks if "accessory" in block]
    hidden = 120 - len(shown)
    assert hidden > 0
    assert message.blocks[-1]["elements"][0]["text"] == f"…and {hidden} more products not shown."
    action_ids = list(buttons_of(message))
    assert len(action_ids) == len(set(action_ids)) == len(shown)


def test_multi_product_without_results() -> None:
    message = render_multi_product(EMAIL, [])
    assert_sendable(message)
    assert message.blocks[1]["text"]["text"] == "No products to look up."


# ------------------------------------------------------------------------------------------
# Notices and limits


def test_notice_with_reference() -> None:
    message = render_notice(":warning: Something broke.", reference="abc<123>")
    assert_sendable(message)
    assert message.blocks[0]["text"]["text"] == ":warning: Something broke."
    assert message.blocks[1]["elements"][0]["text"] == "Reference: `abc&lt;123&gt;`"
    assert message.text == ":warning: Something broke."


def test_notice_is_truncated_and_never_empty() -> None:
    assert_sendable(render_notice("x" * 10_000))
    assert_sendable(render_notice("   "))
    assert len(render_notice("   ").blocks) == 1


def test_check_limits_reports_violations() -> None:
    long_button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "b" * 76},
        "action_id": "a" * 256,
        "value": "v" * 2_001,
    }
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3_001}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2_001}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
        {"type": "actions", "block_id": "x" * 256, "elements": [long_button] * 26},
        {"type": "section", "text": {"type": "mrkdwn", "text": ""}},
        *[{"type": "divider", "block_id": "same"}] * 50,
    ]
    problems = check_limits(Message(text="t" * 3_001, blocks=blocks))
    expected = [
        "text fallback has 3001",
        "57 blocks > 50",
        "block JSON has",
        "duplicate block_id 'same'",
        "header text has 151",
        "section text has 3001",
        "11 fields > 10",
        "field has 2001",
        "11 context elements > 10",
        "block_id has 256",
        "26 actions elements > 25",
        "duplicate action_id",
        "action_id has 256",
        "button text has 76",
        "button value has 2001",
        "section text is empty",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in problems), fragment


def test_block_json_size_is_compact_and_unicode() -> None:
    assert block_json_size([{"type": "divider"}]) == len('[{"type":"divider"}]')
    assert block_json_size([{"t": "é"}]) == len('[{"t":"é"}]')


# ------------------------------------------------------------------------------------------
# Terminal


def test_terminal_rendering_shows_customer_and_counts() -> None:
    summary = summary_of(*eight_users().users, customer=ADA.model_copy(update={"last_name": "<&>"}))
    message = render_summary(summary, lookup_email=EMAIL, buttons=SummaryButtons(escalate=True))
    text = render_for_terminal(message)
    title = "Ada <&> · Analytical Engines Ltd"
    assert text.startswith(f"{title}\n{'=' * len(title)}\n")
    for line in (
        "Users: 8",
        "Active: 6",
        "Inactive: 2",
        "Activations: 21 / 29 (72%) ▰▰▰▰▰▰▰▱▱▱ Active users: 12 / 20 (60%) "
        "1 user without a maximum",
        "At activation limit: ⛔ 1 (and 1 inactive)",
        "On initial password: ⚠️ 1",
        f"Users 1{DASH}8 of 8",
        "[ Share in channel ]  [ Escalate ]",
    ):
        assert line in text.splitlines()
    assert "⛔ zed@example.com · Zed · at activation limit" in text
    assert "🟢 amy@example.com" in text
    assert "⚪ old1@example.com" in text
    assert "Product: engine" in text
    assert "*" not in text
    assert "&amp;" not in text


def test_terminal_rendering_of_links_and_controls() -> None:
    message = render_notice("See <https://docs.example|the docs>\x1b[2J and <https://x.example>")
    assert render_for_terminal(message) == (
        "See the docs (https://docs.example) [2J and https://x.example"
    )


def test_terminal_rendering_of_multi_product() -> None:
    message = render_multi_product(EMAIL, [("engine", eight_users()), ("loom", ":x: Failed.")])
    text = render_for_terminal(message)
    assert "[ Show users (engine) ]" in text
    assert "❌ Failed." in text


def test_block_kit_builder_url_decodes_back_to_the_blocks() -> None:
    message = render_summary(mischief_summary("<!here> & é"), lookup_email=EMAIL)
    url = block_kit_builder_url(message)
    assert url.startswith(BLOCK_KIT_BUILDER_URL)
    fragment = url.removeprefix(BLOCK_KIT_BUILDER_URL)
    assert not {" ", "#", "&", '"', "<"} & set(fragment)
    assert json.loads(unquote(fragment)) == {"blocks": message.blocks}
