"""Pure Block Kit rendering of summaries, multi-product overviews and notices. No I/O.

Every string that did not come from the bot (API data, the product and e-mail typed by the
user) passes through `escape_within` before it enters any text object, so it is escaped,
single-line and bounded. Bounds are measured with `text_cost`, which covers characters,
UTF-16 units and JSON size at once; that is what makes the worst-case page size provable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bot.licensespring.models import Customer, LicenseUser
from bot.rendering.ids import ActionId, BlockId
from bot.rendering.mrkdwn import escape_within, one_line, text_cost, truncate
from bot.reverse import CustomerMatch, Found, ReverseLookup
from bot.seats import Seats, SeatsState
from bot.summary import Activations, Concern, Summary, concern_of
from bot.userlist import EVERYONE, Selection, UserFilter, UserQuery, everyone

Block = dict[str, Any]

# Slack's limits (see /work/shared/reference/slack-facts.md).
MAX_BLOCKS = 50
MAX_SECTION_TEXT_CHARS = 3_000
MAX_FIELDS = 10
MAX_FIELD_TEXT_CHARS = 2_000
MAX_HEADER_TEXT_CHARS = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT_CHARS = 75
MAX_BUTTON_VALUE_CHARS = 2_000
MAX_BUTTON_URL_CHARS = 3_000
MAX_ID_CHARS = 255
MAX_OPTION_TEXT_CHARS = 75
MAX_OPTION_VALUE_CHARS = 150
MAX_OPTIONS = 100
MAX_PLACEHOLDER_CHARS = 150
MAX_FALLBACK_TEXT_CHARS = 3_000
# Messages were refused near 13k characters of blocks, below the documented limits.
MAX_BLOCK_JSON_CHARS = 12_000

PAGE_SIZE = 20
"""Users per page. A full page of worst-case users stays inside MAX_BLOCK_JSON_CHARS."""

BUTTON_VALUE_BUDGET = 400
"""Buttons are left out when a value's `text_cost` would exceed this (an absurdly long product
or e-mail); it bounds the actions block's share of the JSON budget."""


MISSING = "—"
_EN_DASH = "\u2013"

# Bounds, in `text_cost` units, of each piece of outside text after escaping.
_TITLE_PART_COST = 70
_EMAIL_COST = 80
_COMPANY_COST = 80
_PRODUCT_COST = 40
_USER_EMAIL_COST = 80
_USER_NAME_COST = 60
_ORDER_STORE_ID_COST = 30
_ID_CHARS = 12
_NUMBER_CHARS = 13
_ERROR_SENTENCE_CHARS = 500
_NOTICE_REFERENCE_COST = 64
_SEARCH_COST = 120

_SUMMARY_BAR_WIDTH = 10
_USER_BAR_WIDTH = 5
_BAR_FULL = "▰"
_BAR_EMPTY = "▱"

_MARKERS = {
    Concern.AT_LIMIT: ":no_entry:",
    Concern.INITIAL_PASSWORD: ":warning:",
    Concern.ACTIVE: ":large_green_circle:",
    Concern.INACTIVE: ":white_circle:",
}


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: `text` is the notification and screen-reader fallback."""

    text: str
    blocks: list[Block]


@dataclass(frozen=True, slots=True)
class SummaryButtons:
    share: bool = True
    escalate: bool = False
    show_users: bool = False  # for visible posts without the list: pages privately to the presser
    watch: bool = False  # "Watch…": opens the watch modal (needs a store)
    list_tools: bool = False  # the filter menu and Export CSV, under a private user list


# ---------------------------------------------------------------------------------------------
# Button values


@dataclass(frozen=True, slots=True)
class ListState:
    """What a button or menu under a user list carries: the lookup, a page and the query."""

    product: str
    email: str
    page: int = 0
    query: UserQuery = EVERYONE


def state_value(state: ListState) -> str:
    """Compact JSON `["product","email",page]`, then `search, filter` when there is a query.

    `<`, `>`, `&` are written as \\u escapes. Raises ValueError for an empty product or e-mail,
    a negative page, or a value longer than Slack allows.
    """
    if not state.product or not state.email:
        raise ValueError("a button value needs a product and an e-mail")
    page = state.page
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise ValueError("a button value needs a page number >= 0")
    items: list[Any] = [state.product, state.email, page]
    if not state.query.everyone:
        items += [state.query.search or None, state.query.filter.value]
    encoded = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    value = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if len(value) > MAX_BUTTON_VALUE_CHARS:
        raise ValueError("the button value is too long")
    return value


def parse_state_value(value: str) -> ListState:
    """The ListState in a `state_value`; ValueError on anything malformed."""
    if not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE_CHARS:
        raise ValueError("not a button value")
    try:
        decoded = json.loads(value)
    except RecursionError as exc:
        raise ValueError("not a button value") from exc
    if not isinstance(decoded, list) or len(decoded) not in (3, 5):
        raise ValueError("not a button value")
    product, email, page = decoded[:3]
    if not isinstance(product, str) or not isinstance(email, str) or not product or not email:
        raise ValueError("a button value needs a product and an e-mail")
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise ValueError("a button value needs a page number >= 0")
    query = EVERYONE
    if len(decoded) == 5:
        search, chosen = decoded[3:]
        if search is not None and not isinstance(search, str):
            raise ValueError("a search is text")
        try:
            user_filter = UserFilter(chosen)
        except ValueError:
            raise ValueError("not a filter") from None
        cleaned = one_line(search) if search else ""
        query = UserQuery(cleaned or None, user_filter)
    return ListState(product, email, page, query)


def button_value(product: str, email: str, page: int, query: UserQuery = EVERYONE) -> str:
    """`state_value` of a lookup, a page and a query."""
    return state_value(ListState(product, email, page, query))


def parse_button_value(value: str) -> tuple[str, str, int]:
    """(product, email, page) from a button value; ValueError on anything malformed."""
    state = parse_state_value(value)
    return state.product, state.email, state.page


def affordable_state_value(state: ListState) -> str | None:
    """`state_value(state)`, or None when invalid or its cost exceeds BUTTON_VALUE_BUDGET."""
    try:
        value = state_value(state)
    except ValueError:
        return None
    return value if text_cost(value) <= BUTTON_VALUE_BUDGET else None


def affordable_button_value(
    product: str, email: str, page: int, query: UserQuery = EVERYONE
) -> str | None:
    """`button_value(...)`, or None when it is invalid or its cost exceeds BUTTON_VALUE_BUDGET."""
    return affordable_state_value(ListState(product, email, page, query))


def filter_block_id(state: ListState) -> str | None:
    """The filter menu's block_id for `state` (page 0), or None when it would be too long."""
    value = affordable_state_value(ListState(state.product, state.email, 0, state.query))
    if value is None:
        return None
    block_id = f"{BlockId.LIST_TOOLS}:{value}"
    return block_id if len(block_id) <= MAX_ID_CHARS else None


def parse_filter_choice(block_id: str, chosen: str) -> ListState:
    """The state a filter menu choice leads to: page 0 of the chosen filter; ValueError if bad."""
    prefix = f"{BlockId.LIST_TOOLS}:"
    if not isinstance(block_id, str) or not block_id.startswith(prefix):
        raise ValueError("not a filter menu")
    state = parse_state_value(block_id.removeprefix(prefix))
    try:
        user_filter = UserFilter(chosen)
    except ValueError:
        raise ValueError("not a filter") from None
    return ListState(state.product, state.email, 0, UserQuery(state.query.search, user_filter))


# ---------------------------------------------------------------------------------------------
# Block Kit building blocks (public: other renderers, e.g. bot.rendering.alerts, build on them).
# They bound lengths by truncating; escaping outside text is the caller's job.


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain_text(text: str) -> dict[str, Any]:
    """A plain_text object; the caller bounds its length."""
    return {"type": "plain_text", "text": text, "emoji": True}


def header_block(text: str) -> Block:
    return {"type": "header", "text": plain_text(truncate(text, MAX_HEADER_TEXT_CHARS))}


def section_block(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(truncate(text, MAX_SECTION_TEXT_CHARS))}


def fields_block(fields: Sequence[str]) -> Block:
    return {
        "type": "section",
        "fields": [_mrkdwn(truncate(field, MAX_FIELD_TEXT_CHARS)) for field in fields],
    }


def context_block(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text) for text in texts]}


def _divider() -> Block:
    return {"type": "divider"}


def button_element(text: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": plain_text(truncate(text, MAX_BUTTON_TEXT_CHARS)),
        "action_id": action_id,
        "value": value,
    }


# ---------------------------------------------------------------------------------------------
# Small text pieces


def format_number(value: int) -> str:
    """`1,234`, cut to a bounded length."""
    return truncate(f"{value:,}", _NUMBER_CHARS)


def _identifier(value: int | None) -> str:
    return MISSING if value is None else truncate(str(value), _ID_CHARS)


def plural(count: int, word: str) -> str:
    """`1 user`, `2 users`."""
    return f"{format_number(count)} {word if count == 1 else word + 's'}"


def _bar(used: int, maximum: int, width: int) -> str:
    """A text bar of `width` cells; `maximum` must be positive."""
    filled = (used * 2 * width + maximum) // (2 * maximum)
    if used > 0:
        filled = max(filled, 1)
    filled = min(max(filled, 0), width)
    return _BAR_FULL * filled + _BAR_EMPTY * (width - filled)


def _percent(used: int, maximum: int) -> int:
    return (used * 200 + maximum) // (2 * maximum)


def _customer_title(customer: Customer, lookup_email: str) -> str:
    """Escaped: "Name · Company", the name or company alone, else the e-mail."""
    name = escape_within(customer.name, _TITLE_PART_COST)
    company = escape_within(customer.company_name, _TITLE_PART_COST)
    if name and company and name.casefold() != company.casefold():
        return f"{name} · {company}"
    return name or company or _customer_email(customer, lookup_email) or "Unknown customer"


def _customer_email(customer: Customer, lookup_email: str) -> str:
    """Escaped: the customer's e-mail, else the one looked up."""
    return escape_within(customer.email, _EMAIL_COST) or escape_within(lookup_email, _EMAIL_COST)


def _product(summary_product: str) -> str:
    return escape_within(summary_product, _PRODUCT_COST) or MISSING


# ---------------------------------------------------------------------------------------------
# Summary


def page_count(summary: Summary, selection: Selection | None = None) -> int:
    """Pages of PAGE_SIZE users (of the selection, when given); at least 1."""
    users = selection.users if selection is not None else summary.users
    return _pages(len(users))


def _pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def render_summary(
    summary: Summary,
    *,
    lookup_email: str,
    page: int = 0,
    include_users: bool = True,
    buttons: SummaryButtons | None = None,
    selection: Selection | None = None,
    seats: Seats | None = None,
    reverse: ReverseLookup | None = None,
) -> Message:
    """The summary of one customer's license users in one product.

    `seats` (with a management key) adds the seats line; `reverse` (the customer was found from
    one of its license users' e-mail) heads the message with the line saying so.

    The totals are always the customer's; `selection` (a search and/or a filter, see
    `bot.userlist`) decides which users are listed and is carried by every button.
    `page` is clamped to the existing pages (a stale button never fails). Previous/Next are
    shown only with the user list. Button values carry `lookup_email`; Previous/Next carry the
    page they lead to, Share/Escalate the page shown.
    """
    selection = selection if selection is not None else everyone(summary)
    pages = _pages(selection.count)
    page = min(max(page, 0), pages - 1)
    show_users = include_users and bool(selection.users)
    blocks = [
        header_block(_customer_title(summary.customer, lookup_email)),
        _identity_context(summary, lookup_email),
        _overview_block(summary),
    ]
    headline = reverse_headline(reverse, summary) if reverse is not None else None
    if headline is not None:
        blocks.insert(0, section_block(headline))
    if seats is not None:
        blocks.append(seats_block(seats))
    if not selection.query.everyone and summary.total:
        blocks.append(section_block(selection_sentence(selection)))
    state = ListState(summary.product, lookup_email, page, selection.query)
    buttons = buttons or SummaryButtons()
    if show_users:
        blocks.append(_divider())
        blocks.extend(_user_sections(_page_of(selection.users, page)))
        blocks.append(context_block(_page_caption(selection, page, pages)))
        if buttons.list_tools:
            tools = _list_tools(selection, state)
            if tools is not None:
                blocks.append(tools)
    actions = _summary_actions(
        selection,
        state,
        pages=pages,
        navigate=show_users,
        buttons=buttons,
    )
    if actions is not None:
        blocks.append(actions)
    fallback = _summary_fallback(summary, lookup_email, selection)
    if headline is not None:
        fallback = truncate(f"{headline}. {fallback}", MAX_FALLBACK_TEXT_CHARS)
    return Message(text=fallback, blocks=blocks)


def render_user_page(
    summary: Summary, *, lookup_email: str, page: int, selection: Selection | None = None
) -> Message:
    """Only one page of the user list with its caption: thread replies under a summary."""
    selection = selection if selection is not None else everyone(summary)
    pages = _pages(selection.count)
    page = min(max(page, 0), pages - 1)
    blocks = [
        *_user_sections(_page_of(selection.users, page)),
        context_block(_page_caption(selection, page, pages)),
    ]
    return Message(text=_summary_fallback(summary, lookup_email, selection), blocks=blocks)


def shown_search(search: str) -> str:
    """A search echoed back inside a code span: escaped, one line, bounded."""
    return escape_within(search.replace("`", "'"), _SEARCH_COST) or MISSING


def selection_sentence(selection: Selection) -> str:
    """ "3 of 5,000 users match `greta`", "None of the 8 users are inactive", ... (mrkdwn)."""
    count, query = selection.count, selection.query
    total = plural(selection.total, "user")
    one = count == 1
    subject = f"{format_number(count)} of {total}" if count else f"None of the {total}"
    clauses: list[str] = []
    if query.search:
        clauses.append(f"{'matches' if one else 'match'} `{shown_search(query.search)}`")
    if query.filter is not UserFilter.ALL:
        clauses.append(f"{'is' if one else 'are'} {query.filter.phrase}")
    sentence = f"{subject} {' and '.join(clauses)}" if clauses else subject
    return f":mag: {sentence}." if count == 0 else f"{sentence}."


def _identity_context(summary: Summary, lookup_email: str) -> Block:
    elements = [_customer_email(summary.customer, lookup_email) or MISSING]
    company = escape_within(summary.customer.company_name, _COMPANY_COST)
    if company:
        elements.append(f"Company: {company}")
    elements.append(f"Product: *{_product(summary.product)}*")
    return context_block(*elements)


def _overview_block(summary: Summary) -> Block:
    if summary.total == 0:
        return section_block(
            f"No license users for this customer in *{_product(summary.product)}*."
        )
    return fields_block(
        [
            f"*Users*\n{format_number(summary.total)}",
            f"*Active*\n{format_number(summary.active)}",
            f"*Inactive*\n{format_number(summary.inactive)}",
            f"*Activations*\n{_activations_overview(summary)}",
            f"*At activation limit*\n{_at_limit_overview(summary)}",
            f"*On initial password*\n{_initial_password_overview(summary)}",
        ]
    )


def _flagged(count: int, concern: Concern) -> str:
    return f"{_MARKERS[concern]} {format_number(count)}" if count else "0"


def _at_limit_overview(summary: Summary) -> str:
    """Active users at their limit; inactive ones at theirs are counted apart."""
    text = _flagged(len(summary.at_limit), Concern.AT_LIMIT)
    if summary.inactive_at_limit:
        text += f" (and {format_number(summary.inactive_at_limit)} inactive)"
    return text


def _initial_password_overview(summary: Summary) -> str:
    text = _flagged(len(summary.on_initial_password), Concern.INITIAL_PASSWORD)
    if summary.inactive_on_initial_password:
        text += f" ({format_number(summary.inactive_on_initial_password)} inactive)"
    return text


def activations_figure(activations: Activations) -> str:
    """ "37 / 69 (54%)", or "37 used, maximum unknown"."""
    used, maximum = activations.used, activations.maximum
    if maximum <= 0:
        return f"{format_number(used)} used, maximum unknown"
    percent = format_number(_percent(used, maximum))
    return f"{format_number(used)} / {format_number(maximum)} ({percent}%)"


def active_share(summary: Summary) -> str | None:
    """ "active users: 29 / 49 (59%)" when inactive users hold part of the headline figure."""
    if not summary.inactive:
        return None
    if not summary.active:
        return "active users: none"
    return f"active users: {activations_figure(summary.active_activations)}"


def _activations_overview(summary: Summary) -> str:
    activations = summary.activations
    lines = [activations_figure(activations)]
    if activations.maximum > 0:
        lines.append(_bar(activations.used, activations.maximum, _SUMMARY_BAR_WIDTH))
    share = active_share(summary)
    if share is not None:
        lines.append(share[:1].upper() + share[1:])
    if activations.users_without_max and activations.maximum > 0:
        lines.append(f"{plural(activations.users_without_max, 'user')} without a maximum")
    return "\n".join(lines)


def _page_of(users: tuple[LicenseUser, ...], page: int) -> tuple[LicenseUser, ...]:
    start = page * PAGE_SIZE
    return users[start : start + PAGE_SIZE]


def _user_sections(users: Sequence[LicenseUser]) -> Iterator[Block]:
    """Users' lines packed into as few sections as the section text limit allows."""
    lines: list[str] = []
    cost = 0
    for user in users:
        line = _user_line(user)
        line_cost = text_cost(line)
        if lines and cost + 1 + line_cost > MAX_SECTION_TEXT_CHARS:
            yield section_block("\n".join(lines))
            lines, cost = [], 0
        cost += line_cost + (1 if lines else 0)
        lines.append(line)
    if lines:
        yield section_block("\n".join(lines))


def _user_line(user: LicenseUser) -> str:
    email = escape_within(user.email, _USER_EMAIL_COST) or MISSING
    name = escape_within(user.name, _USER_NAME_COST) or MISSING
    return " · ".join(
        [
            f"{_MARKERS[concern_of(user)]} {email}",
            name,
            _user_status(user),
            _user_activations(user),
            f"license {_identifier(user.license_id)}",
            f"order {_order(user)}",
        ]
    )


def _user_status(user: LicenseUser) -> str:
    if not user.is_active:
        return "inactive, initial password" if user.is_initial_password else "inactive"
    if user.at_activation_limit and user.is_initial_password:
        return "at limit, initial password"
    if user.at_activation_limit:
        return "at activation limit"
    if user.is_initial_password:
        return "initial password"
    return "active"


def _user_activations(user: LicenseUser) -> str:
    used, maximum = user.total_activations, user.max_activations
    if used is None and maximum is None:
        return f"activations {MISSING}"
    used_text = MISSING if used is None else format_number(used)
    maximum_text = MISSING if maximum is None else format_number(maximum)
    text = f"activations {used_text}/{maximum_text}"
    if used is not None and maximum is not None and maximum > 0:
        text += " " + _bar(used, maximum, _USER_BAR_WIDTH)
    return text


def _order(user: LicenseUser) -> str:
    store_id = escape_within(user.order_store_id, _ORDER_STORE_ID_COST)
    if user.order_id is not None and store_id:
        return f"{_identifier(user.order_id)} ({store_id})"
    if user.order_id is not None:
        return _identifier(user.order_id)
    return store_id or MISSING


def _page_caption(selection: Selection, page: int, pages: int) -> str:
    total = selection.count
    first = page * PAGE_SIZE + 1
    last = min(total, first + PAGE_SIZE - 1)
    noun = "Users" if selection.query.everyone else "Matches"
    caption = f"{noun} {first:,}{_EN_DASH}{last:,} of {total:,}"
    if pages > 1:
        caption += f" · page {page + 1:,} of {pages:,}"
    return caption


def _summary_actions(
    selection: Selection,
    state: ListState,
    *,
    pages: int,
    navigate: bool,
    buttons: SummaryButtons,
) -> Block | None:
    page = state.page
    wanted: list[tuple[str, str, int]] = []
    if navigate and page > 0:
        wanted.append(("Previous", ActionId.PAGE_PREV, page - 1))
    if navigate and page + 1 < pages:
        wanted.append(("Next", ActionId.PAGE_NEXT, page + 1))
    if buttons.show_users and not navigate and selection.users:
        wanted.append(("Show users", ActionId.SHOW_USERS, 0))
    if buttons.share:
        wanted.append(("Share in channel", ActionId.SHARE, page))
    if buttons.escalate:
        wanted.append(("Escalate", ActionId.ESCALATE, page))
    if buttons.watch:
        wanted.append(("Watch…", ActionId.WATCH, 0))
    elements: list[dict[str, Any]] = []
    for text, action_id, target_page in wanted:
        value = affordable_state_value(
            ListState(state.product, state.email, target_page, state.query)
        )
        if value is None:
            return None
        elements.append(button_element(text, action_id, value))
    if not elements:
        return None
    return {"type": "actions", "block_id": BlockId.SUMMARY_ACTIONS, "elements": elements}


def _list_tools(selection: Selection, state: ListState) -> Block | None:
    """The filter menu (when more than one filter has users) and Export CSV."""
    export_value = affordable_state_value(ListState(state.product, state.email, 0, state.query))
    if export_value is None:
        return None
    elements: list[dict[str, Any]] = []
    block_id = filter_block_id(state)
    menu = filter_menu(selection) if block_id is not None else None
    if menu is not None:
        elements.append(menu)
    elements.append(button_element("Export CSV", ActionId.EXPORT, export_value))
    return {
        "type": "actions",
        "block_id": block_id if menu is not None and block_id else BlockId.LIST_TOOLS,
        "elements": elements,
    }


def filter_menu(selection: Selection) -> dict[str, Any] | None:
    """A static_select of the filters that have users (with their counts), or None if one."""
    chosen = selection.query.filter
    options = [
        _filter_option(user_filter, selection)
        for user_filter in UserFilter
        if selection.filter_counts.get(user_filter, 0) > 0 or user_filter is chosen
    ]
    if len(options) < 2:
        return None
    return {
        "type": "static_select",
        "action_id": ActionId.FILTER,
        "placeholder": plain_text("Filter users"),
        "options": options,
        "initial_option": _filter_option(chosen, selection),
    }


def _filter_option(user_filter: UserFilter, selection: Selection) -> dict[str, Any]:
    label = user_filter.label
    if user_filter is UserFilter.ALL and selection.query.search:
        label = "All matches"
    count = format_number(selection.filter_counts.get(user_filter, 0))
    return {
        "text": plain_text(truncate(f"{label} ({count})", MAX_OPTION_TEXT_CHARS)),
        "value": user_filter.value,
    }


def _counts_sentence(summary: Summary) -> str:
    """ "17 users, 11 active, 37/69 activations (54%; active users 29/49), 1 at limit, ..."."""
    if summary.total == 0:
        return "no license users"
    on_initial = f"{format_number(len(summary.on_initial_password))} on initial password"
    if summary.inactive_on_initial_password:
        on_initial += f" ({format_number(summary.inactive_on_initial_password)} inactive)"
    parts = [
        plural(summary.total, "user"),
        f"{format_number(summary.active)} active",
        _activations_sentence(summary),
        _at_limit_sentence(summary),
        on_initial,
    ]
    return ", ".join(parts)


def _at_limit_sentence(summary: Summary) -> str:
    text = f"{format_number(len(summary.at_limit))} at limit"
    if summary.inactive_at_limit:
        text += f" (and {format_number(summary.inactive_at_limit)} inactive)"
    return text


def _activations_sentence(summary: Summary) -> str:
    used, maximum = summary.activations_used, summary.activations_max
    if maximum <= 0:
        text = f"{plural(used, 'activation')} (maximum unknown"
    else:
        percent = format_number(_percent(used, maximum))
        text = f"{format_number(used)}/{format_number(maximum)} activations ({percent}%"
    if summary.inactive:
        share = summary.active_activations
        figure = (
            f"{format_number(share.used)}/{format_number(share.maximum)}"
            if share.maximum > 0
            else format_number(share.used)
        )
        text += f"; active users {figure}"
    return text + ")"


def _summary_fallback(
    summary: Summary, lookup_email: str, selection: Selection | None = None
) -> str:
    title = _customer_title(summary.customer, lookup_email)
    email = _customer_email(summary.customer, lookup_email)
    who = title if not email or email == title else f"{title} ({email})"
    text = f"{who}, {_product(summary.product)}: {_counts_sentence(summary)}"
    if selection is not None and not selection.query.everyone and summary.total:
        text += ". " + selection_sentence(selection).removeprefix(":mag: ")
    return truncate(text, MAX_FALLBACK_TEXT_CHARS)


# ---------------------------------------------------------------------------------------------
# Seats and customers found from a license user's e-mail

_MAX_SEAT_LINES = 5
_MAX_CUSTOMER_CHOICES = 20
MORE_LICENSES_THAN = 1_000  # the Management API client reads at most 10 pages of 100


def seats_figure(seats: Seats) -> str:
    """ "Seats: 8 / 15, 1 license full", "seats could not be read", ..."""
    if seats.state is SeatsState.UNREADABLE:
        return "seats could not be read"
    if seats.state is SeatsState.TOO_MANY:
        return f"seats not counted: more than {format_number(MORE_LICENSES_THAN)} licenses"
    parts = []
    if seats.capped:
        parts.append(f"Seats: {format_number(seats.used)} / {format_number(seats.maximum)}")
    if seats.unlimited_used or not seats.capped:
        unlimited = f"{format_number(seats.unlimited_used)} on licenses without a seat cap"
        parts.append(unlimited if seats.capped else f"Seats: {unlimited}")
    if seats.full:
        parts.append(f"{plural(len(seats.full), 'license')} full")
    return ", ".join(parts)


def seats_block(seats: Seats) -> Block:
    if not seats.counted:
        return context_block(
            f":hourglass_flowing_sand: {seats_figure(seats)[:1].upper()}{seats_figure(seats)[1:]}."
        )
    lines = [f"*{seats_figure(seats)}*"]
    for lic in seats.licenses[:_MAX_SEAT_LINES]:
        cap = format_number(lic.cap) if lic.cap else "no cap"
        marker = f"{_MARKERS[Concern.AT_LIMIT]} " if lic.full else ""
        full = " (full)" if lic.full else ""
        lines.append(
            f"{marker}License `{_license_id(lic.license_id)}`: "
            f"{format_number(lic.used)} / {cap}{full}"
        )
    hidden = len(seats.licenses) - _MAX_SEAT_LINES
    if hidden > 0:
        lines.append(f"…and {plural(hidden, 'more license')}")
    return section_block("\n".join(lines))


def _license_id(value: int | None) -> str:
    # Management API license ids run to 16 digits: shown whole (an int cannot need escaping).
    return MISSING if value is None else str(value)


def _customer_label(customer: CustomerMatch) -> str:
    return (
        escape_within(customer.company, _TITLE_PART_COST)
        or escape_within(customer.name, _TITLE_PART_COST)
        or escape_within(customer.email, _EMAIL_COST)
        or MISSING
    )


def _code_span(text: str, cost: int = _EMAIL_COST) -> str:
    shown = escape_within(text, cost).replace("`", "'") or MISSING
    return f"`{shown}`"


def reverse_headline(reverse: ReverseLookup, summary: Summary | None = None) -> str | None:
    """ "`jane@acme.example` is a license user of *Acme Ltd* (`buyer@acme.example`)"."""
    if reverse.found is not Found.ONE or not reverse.customers:
        return None
    customer = reverse.customers[0]
    if summary is not None and (summary.customer.company_name or summary.customer.name):
        customer = CustomerMatch(
            customer.email, summary.customer.name, summary.customer.company_name
        )
    return (
        f":bust_in_silhouette: {_code_span(reverse.license_user)} is a license user of "
        f"*{_customer_label(customer)}* ({_code_span(customer.email)})"
    )


MANAGEMENT_KEY_HINT = (
    "Setting `LICENSESPRING_MANAGEMENT_API_KEY` lets the bot find customers from their "
    "license users' e-mails."
)


def reverse_note(reverse: ReverseLookup, product: str) -> str:
    """The sentence a "no such customer" reply adds: what the Management API found."""
    user = _code_span(reverse.license_user)
    if reverse.found is Found.NO_KEY:
        return MANAGEMENT_KEY_HINT
    if reverse.found is Found.NONE:
        return f"{user} is not a license user either."
    if reverse.found is Found.FAILED:
        return f"Could not ask whether {user} is a license user: {reverse.failure or ''}".strip()
    if reverse.found is Found.UNKNOWN_CUSTOMER and reverse.customers:
        customer = reverse.customers[0]
        return (
            f"{user} is a license user of *{_customer_label(customer)}* "
            f"({_code_span(customer.email)}), but LicenseSpring has no such customer in "
            f"{_code_span(product, _PRODUCT_COST)}."
        )
    if reverse.found is Found.SEVERAL:
        names = ", ".join(
            f"*{_customer_label(c)}* ({_code_span(c.email)})"
            for c in reverse.customers[:_MAX_CUSTOMER_CHOICES]
        )
        more = len(reverse.customers) - _MAX_CUSTOMER_CHOICES
        tail = f" and {plural(more, 'more')}" if more > 0 else ""
        return (
            f"{user} is a license user of {plural(len(reverse.customers), 'customer')}: "
            f"{names}{tail}. Look up the one you mean by its e-mail."
        )
    return ""


def render_customer_choice(reverse: ReverseLookup, product: str) -> Message:
    """A license user of several customers: one line per customer, each with a button that
    opens that customer's answer narrowed to the user (action `choose_customer_<index>`)."""
    user = _code_span(reverse.license_user)
    count = plural(len(reverse.customers), "customer")
    intro = (
        f":busts_in_silhouette: {user} is a license user of {count} in "
        f"{_code_span(product, _PRODUCT_COST)}. Which one do you mean?"
    )
    blocks: list[Block] = [section_block(intro)]
    shown = reverse.customers[:_MAX_CUSTOMER_CHOICES]
    for index, customer in enumerate(shown):
        block = section_block(f"*{_customer_label(customer)}* · {_code_span(customer.email)}")
        value = affordable_button_value(product, customer.email, 0, UserQuery(reverse.license_user))
        if value is not None:
            block["accessory"] = button_element(
                "Show", ActionId.CHOOSE_CUSTOMER.indexed(index), value
            )
        blocks.append(block)
    hidden = len(reverse.customers) - len(shown)
    if hidden > 0:
        blocks.append(context_block(f"…and {plural(hidden, 'more customer')} not shown."))
    fallback = (
        intro
        + " "
        + ", ".join(f"{_customer_label(c)} ({escape_within(c.email, _EMAIL_COST)})" for c in shown)
    )
    return Message(text=truncate(fallback, MAX_FALLBACK_TEXT_CHARS), blocks=blocks)


# ---------------------------------------------------------------------------------------------
# Several products


_MORE_PRODUCTS_RESERVE = 200
_FALLBACK_PRODUCTS_CHARS = 1_000


def render_multi_product(
    lookup_email: str,
    results: Sequence[tuple[str, Summary | str]],
    query: UserQuery = EVERYONE,
) -> Message:
    """One message for several products' lookups of one e-mail.

    A `str` result is an error sentence written by the bot (mrkdwn allowed, not escaped). Each
    successful product gets a "Show users (<product>)" button (action_id `show_users_<index>`,
    index into `results`) that carries `query`. Products that do not fit are counted as
    "and N more".
    """
    email = escape_within(lookup_email, _EMAIL_COST) or MISSING
    blocks: list[Block] = [header_block(f"License users for {email}")]
    if not results:
        blocks.append(section_block("No products to look up."))
    if query.search:
        blocks.append(
            context_block(
                f"Search: `{shown_search(query.search)}`. "
                "Show a product's users to see who matches."
            )
        )
    size = block_json_size(blocks)
    shown = 0
    for index, (product, outcome) in enumerate(results):
        block = _product_section(index, product, outcome, lookup_email, query)
        block_size = block_json_size([block]) - 1  # minus the list brackets, plus a comma
        fits_size = size + block_size + _MORE_PRODUCTS_RESERVE <= MAX_BLOCK_JSON_CHARS
        if not fits_size or len(blocks) + 2 > MAX_BLOCKS:
            break
        blocks.append(block)
        size += block_size
        shown += 1
    hidden = len(results) - shown
    if hidden:
        blocks.append(context_block(f"…and {plural(hidden, 'more product')} not shown."))
    return Message(text=_multi_product_fallback(email, results), blocks=blocks)


def _product_section(
    index: int, product: str, outcome: Summary | str, lookup_email: str, query: UserQuery
) -> Block:
    name = _product(product)
    if isinstance(outcome, str):
        sentence = truncate(outcome.strip(), _ERROR_SENTENCE_CHARS) or "The lookup failed."
        return section_block(f"*{name}*\n{sentence}")
    title = _customer_title(outcome.customer, lookup_email)
    counts = _counts_sentence(outcome)
    block = section_block(f"*{name}* · {title}\n{counts[:1].upper()}{counts[1:]}")
    value = affordable_button_value(product, lookup_email, 0, query)
    if value is not None:
        block["accessory"] = button_element(
            f"Show users ({name})", ActionId.SHOW_USERS.indexed(index), value
        )
    return block


def _multi_product_fallback(email: str, results: Sequence[tuple[str, Summary | str]]) -> str:
    parts: list[str] = []
    length = 0
    for product, outcome in results:
        detail = outcome if isinstance(outcome, str) else _counts_sentence(outcome)
        part = f"{_product(product)}: {truncate(detail, 200)}"
        parts.append(part)
        length += len(part) + 2
        if length > _FALLBACK_PRODUCTS_CHARS:
            break
    hidden = len(results) - len(parts)
    text = f"License users for {email}: " + ("; ".join(parts) or "no products")
    if hidden:
        text += f"; and {plural(hidden, 'more product')}"
    return truncate(text, MAX_FALLBACK_TEXT_CHARS)


# ---------------------------------------------------------------------------------------------
# Notices


def render_notice(
    text: str, *, reference: str | None = None, retry: tuple[str, str] | None = None
) -> Message:
    """A one-section message for errors and usage; `text` is the bot's own mrkdwn.

    `retry` is (action_id, button value) of a "Try again" button that runs the lookup again.
    """
    body = text.strip() or "Something went wrong."
    blocks = [section_block(body)]
    if reference:
        blocks.append(
            context_block(f"Reference: `{escape_within(reference, _NOTICE_REFERENCE_COST)}`")
        )
    if retry is not None:
        action_id, value = retry
        button = {**button_element("Try again", action_id, value), "style": "primary"}
        blocks.append({"type": "actions", "block_id": BlockId.RETRY_ACTIONS, "elements": [button]})
    return Message(text=truncate(body, MAX_FALLBACK_TEXT_CHARS), blocks=blocks)


# ---------------------------------------------------------------------------------------------
# Limits


def block_json_size(blocks: list[Block]) -> int:
    """Characters of the blocks as compact JSON, as they are sent."""
    return len(json.dumps(blocks, ensure_ascii=False, separators=(",", ":")))


def check_limits(message: Message) -> list[str]:
    """Every Block Kit limit `message` violates; empty when it can be sent."""
    problems: list[str] = []
    if not message.text:
        problems.append("text fallback is empty")
    if len(message.text) > MAX_FALLBACK_TEXT_CHARS:
        problems.append(f"text fallback has {len(message.text)} > {MAX_FALLBACK_TEXT_CHARS} chars")
    if len(message.blocks) > MAX_BLOCKS:
        problems.append(f"{len(message.blocks)} blocks > {MAX_BLOCKS}")
    size = block_json_size(message.blocks)
    if size > MAX_BLOCK_JSON_CHARS:
        problems.append(f"block JSON has {size} > {MAX_BLOCK_JSON_CHARS} chars")
    problems.extend(_duplicate_block_ids(message.blocks))
    for index, block in enumerate(message.blocks):
        problems.extend(f"block {index}: {problem}" for problem in _block_problems(block))
    return problems


def _duplicate_block_ids(blocks: list[Block]) -> list[str]:
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    duplicates = sorted({str(bid) for bid in block_ids if block_ids.count(bid) > 1})
    return [f"duplicate block_id {bid!r}" for bid in duplicates]


def _block_problems(block: Block) -> list[str]:
    problems = _id_problems("block_id", block.get("block_id"))
    kind = block.get("type")
    if kind == "header":
        problems += _text_problems("header text", block.get("text"), MAX_HEADER_TEXT_CHARS)
    elif kind == "section":
        problems += _section_problems(block)
    elif kind == "context":
        problems += _context_problems(block)
    elif kind == "actions":
        problems += _actions_problems(block)
    elif kind != "divider":
        problems.append(f"unknown block type {kind!r}")
    return problems


def _section_problems(block: Block) -> list[str]:
    problems: list[str] = []
    fields = block.get("fields")
    if "text" not in block and not fields:
        problems.append("section has neither text nor fields")
    if "text" in block:
        problems += _text_problems("section text", block["text"], MAX_SECTION_TEXT_CHARS)
    if fields is not None:
        if len(fields) > MAX_FIELDS:
            problems.append(f"{len(fields)} fields > {MAX_FIELDS}")
        for field in fields:
            problems += _text_problems("field", field, MAX_FIELD_TEXT_CHARS)
    if "accessory" in block:
        problems += _element_problems(block["accessory"])
    return problems


def _context_problems(block: Block) -> list[str]:
    elements = block.get("elements") or []
    problems = [] if elements else ["context has no elements"]
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        problems.append(f"{len(elements)} context elements > {MAX_CONTEXT_ELEMENTS}")
    for element in elements:
        problems += _text_problems("context text", element, MAX_SECTION_TEXT_CHARS)
    return problems


def _actions_problems(block: Block) -> list[str]:
    elements = block.get("elements") or []
    problems = [] if elements else ["actions has no elements"]
    if len(elements) > MAX_ACTIONS_ELEMENTS:
        problems.append(f"{len(elements)} actions elements > {MAX_ACTIONS_ELEMENTS}")
    action_ids = [element.get("action_id") for element in elements]
    if len(set(action_ids)) != len(action_ids):
        problems.append("duplicate action_id in one actions block")
    for element in elements:
        problems += _element_problems(element)
    return problems


def _element_problems(element: dict[str, Any]) -> list[str]:
    problems = _id_problems("action_id", element.get("action_id"))
    if element.get("type") == "static_select":
        return problems + _select_problems(element)
    if element.get("type") != "button":
        return problems
    problems += _text_problems("button text", element.get("text"), MAX_BUTTON_TEXT_CHARS)
    value = element.get("value", "")
    if len(value) > MAX_BUTTON_VALUE_CHARS:
        problems.append(f"button value has {len(value)} > {MAX_BUTTON_VALUE_CHARS} chars")
    url = element.get("url", "")
    if len(url) > MAX_BUTTON_URL_CHARS:
        problems.append(f"button url has {len(url)} > {MAX_BUTTON_URL_CHARS} chars")
    return problems


def _select_problems(element: dict[str, Any]) -> list[str]:
    options = element.get("options") or []
    problems = [] if options else ["static_select has no options"]
    if len(options) > MAX_OPTIONS:
        problems.append(f"{len(options)} options > {MAX_OPTIONS}")
    if "placeholder" in element:
        problems += _text_problems("placeholder", element["placeholder"], MAX_PLACEHOLDER_CHARS)
    for option in options:
        problems += _text_problems("option text", option.get("text"), MAX_OPTION_TEXT_CHARS)
        if len(str(option.get("value", ""))) > MAX_OPTION_VALUE_CHARS:
            problems.append(f"option value > {MAX_OPTION_VALUE_CHARS} chars")
    initial = element.get("initial_option")
    if initial is not None and initial not in options:
        problems.append("initial_option is not one of the options")
    return problems


def _text_problems(what: str, text_object: Any, limit: int) -> list[str]:
    if not isinstance(text_object, dict) or not isinstance(text_object.get("text"), str):
        return [f"{what} is not a text object"]
    text = text_object["text"]
    if not text:
        return [f"{what} is empty"]
    if len(text) > limit:
        return [f"{what} has {len(text)} > {limit} chars"]
    return []


def _id_problems(what: str, identifier: Any) -> list[str]:
    if identifier is not None and len(str(identifier)) > MAX_ID_CHARS:
        return [f"{what} has {len(str(identifier))} > {MAX_ID_CHARS} chars"]
    return []
