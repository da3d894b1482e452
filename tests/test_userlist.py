"""Search and filters over a summary (bot.userlist), the search grammar, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import userlist
from bot.export import COLUMNS, ENCODING, export_filename, safe_cell, users_csv
from bot.licensespring.models import CustomerLicenseUsers, LicenseUser
from bot.slack.core.grammar import (
    MAX_SEARCH_CHARS,
    InvalidRequest,
    LookupRequest,
    parse_command,
    parse_search,
)
from bot.summary import summarise
from bot.userlist import UserFilter, UserIndex, UserQuery, search_terms, user_matches


def person(email: str, first: str = "", last: str = "", **fields: object) -> LicenseUser:
    return LicenseUser(email=email, first_name=first, last_name=last, **fields)  # type: ignore[arg-type]


PEOPLE = (
    person("ada@x.example", "Ada", "Lovelace", is_active=True, max_activations=2,
           total_activations=2),
    person("grace@x.example", "Grace", "Hopper", is_active=True, is_initial_password=True),
    person("GRACE.h@y.example", "Grace", "Hollerith", is_active=False),
    person("zoe@x.example", "Zoë", "Ñúñez", is_active=True),
)  # fmt: skip


def index_of(*users: LicenseUser) -> UserIndex:
    answer = CustomerLicenseUsers(users=users)
    return UserIndex(summarise("p", answer), answer.users)


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("grace", {"grace@x.example", "GRACE.h@y.example"}),
        ("GRACE hopper", {"grace@x.example"}),
        ("y.example", {"GRACE.h@y.example"}),
        ("zoë ñúñez", {"zoe@x.example"}),
        ("ZOË", {"zoe@x.example"}),
        ("hopper lovelace", set()),
        ("nobody", set()),
    ],
)
def test_search_words_must_all_match_email_or_names(search: str, expected: set[str]) -> None:
    selection = index_of(*PEOPLE).select(UserQuery(search))
    assert {user.email for user in selection.users} == expected
    assert selection.total == 4
    assert selection.matching == len(expected)


def test_matches_keep_the_problems_first_order_and_filters_count_within_them() -> None:
    selection = index_of(*PEOPLE).select(UserQuery("x.example"))
    assert [u.email for u in selection.users] == [
        "ada@x.example",
        "grace@x.example",
        "zoe@x.example",
    ]
    assert selection.filter_counts == {
        UserFilter.ALL: 3,
        UserFilter.AT_LIMIT: 1,
        UserFilter.INITIAL_PASSWORD: 1,
        UserFilter.ACTIVE: 3,
        UserFilter.INACTIVE: 0,
    }


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (UserFilter.ALL, 4),
        (UserFilter.AT_LIMIT, 1),
        (UserFilter.INITIAL_PASSWORD, 1),
        (UserFilter.ACTIVE, 3),
        (UserFilter.INACTIVE, 1),
    ],
)
def test_each_filter_agrees_with_the_summary_figures(chosen: UserFilter, expected: int) -> None:
    index = index_of(*PEOPLE)
    selection = index.select(UserQuery(None, chosen))
    assert selection.count == expected == selection.filter_counts[chosen]


def test_a_field_separator_never_lets_a_word_span_two_fields() -> None:
    index = index_of(person("ab@x.example", "cd", "ef"))
    assert index.select(UserQuery("example cd")).count == 1
    assert index.select(UserQuery("examplecd")).count == 0


def test_selections_are_remembered() -> None:
    index = index_of(*PEOPLE)
    query = UserQuery("grace", UserFilter.ACTIVE)
    assert not index.is_selected(query)
    first = index.select(query)
    assert index.is_selected(query)
    assert index.select(query) is first


CASE_TRAPS = "ßẞİ\u0131Çç"  # casefold changes lengths or has no simple inverse for these
emails = st.text(alphabet="abcAB.@" + CASE_TRAPS, min_size=1, max_size=8)
names = st.text(alphabet="abcAB " + CASE_TRAPS, max_size=6)


@pytest.fixture(params=["sorting matches", "walking the sorted users"])
def match_ordering(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of putting matches in problems-first order, each checked by the tests."""
    if request.param == "walking the sorted users":
        monkeypatch.setattr(userlist, "SORT_MATCHES_UP_TO", 0)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    users=st.lists(st.tuples(emails, names, names, st.booleans()), max_size=12),
    search=st.text(alphabet="abcAB .@" + CASE_TRAPS, max_size=6),
    chosen=st.sampled_from(list(UserFilter)),
)
def test_the_index_agrees_with_the_obvious_definition(
    match_ordering: None,
    users: list[tuple[str, str, str, bool]],
    search: str,
    chosen: UserFilter,
) -> None:
    people = [
        person(e, f, last, is_active=a, is_initial_password=a, max_activations=1,
               total_activations=int(a and len(e) % 2))
        for e, f, last, a in users
    ]  # fmt: skip
    index = index_of(*people)
    selection = index.select(UserQuery(search or None, chosen))
    terms = search_terms(search)
    summary = index.summary
    wanted = [
        u
        for u in summary.users
        if user_matches(u, terms)
        and (
            chosen is UserFilter.ALL
            or (chosen is UserFilter.ACTIVE and u.is_active)
            or (chosen is UserFilter.INACTIVE and not u.is_active)
            or (chosen is UserFilter.AT_LIMIT and u in summary.at_limit)
            or (chosen is UserFilter.INITIAL_PASSWORD and u in summary.on_initial_password)
        )
    ]
    assert [id(u) for u in selection.users] == [id(u) for u in wanted]


# --- the search grammar --------------------------------------------------------------------


E = "a@b.example"
L = LookupRequest


@pytest.mark.parametrize(
    ("text", "products", "default", "expected"),
    [
        ("acme a@b.example", (), None, L(("acme",), "a@b.example")),
        ("acme a@b.example Grace  Hopper", (), None, L(("acme",), E, "Grace Hopper")),
        ("a@b.example acme grace", (), None, L(("acme",), E, "grace")),
        ("a@b.example grace", ("acme",), None, L(("acme",), E, "grace")),
        ("a@b.example ACME grace", ("acme",), None, L(("acme",), E, "grace")),
        ("a@b.example grace", (), "acme", L(("acme",), E, "grace")),
        ("a@b.example grace", ("p1", "p2"), None, L(("p1", "p2"), E, "grace")),
        ("acme a@b.example <mailto:g@h.example|g@h.example>", (), None,
         L(("acme",), E, "g@h.example")),
        ("acme a@b.example g@h.example", (), None, L(("acme",), E, "g@h.example")),
        ("acme a@b.example <http://h.example|h.example>", (), None,
         L(("acme",), E, "h.example")),
        ("acme a@b.example &lt;!channel&gt; &amp;", (), None,
         L(("acme",), E, "<!channel> &")),
    ],
)  # fmt: skip
def test_whatever_follows_product_and_customer_is_the_search(
    text: str, products: tuple[str, ...], default: str | None, expected: LookupRequest
) -> None:
    assert parse_command(text, products=products, default_product=default) == expected


def test_search_text_is_cleaned_and_bounded() -> None:
    assert parse_search("  a\x00b\tc\u202e\n d ") == "a b c d"
    assert parse_search("\x07\x1b") is None
    assert parse_search("x" * MAX_SEARCH_CHARS) == "x" * MAX_SEARCH_CHARS
    too_long = parse_search("x" * 1_000)
    assert isinstance(too_long, InvalidRequest)
    assert "1,000 characters" in too_long.reason


def test_a_watch_takes_no_search() -> None:
    parsed = parse_command("watch acme a@b.example grace")
    assert isinstance(parsed, InvalidRequest)
    assert "takes no search" in parsed.reason


# --- CSV -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (0, "0"),
        (-5, "'-5"),
    ],
)
def test_cells_that_could_run_as_formulas_are_neutralised(
    value: str | int | bool | None, cell: str
) -> None:
    assert safe_cell(value) == cell


def test_csv_has_the_header_and_never_a_password() -> None:
    answer = CustomerLicenseUsers.model_validate(
        {
            "users": [
                {"email": "a@x.example", "first_name": "Zoë", "initial_password": "pw-1",
                 "is_initial_password": True, "license_id": 7, "order_store_id": "=evil"},
            ]
        }
    )  # fmt: skip
    content = users_csv(answer.users)
    assert content.startswith("\ufeff".encode())
    assert b"pw-1" not in content
    rows = list(csv.reader(io.StringIO(content.decode(ENCODING))))
    assert tuple(rows[0]) == COLUMNS
    assert "initial_password" not in rows[0]
    assert rows[1] == ["a@x.example", "Zoë", "", "false", "true", "", "", "7", "", "'=evil"]


def test_export_file_names_say_what_they_hold() -> None:
    day = date(2026, 12, 1)
    assert export_filename("acme-desktop", "Ada@X.example", UserQuery(), day) == (
        "license-users_acme-desktop_ada@x.example_2026-12-01.csv"
    )
    named = export_filename(
        "acme", "a@x.example", UserQuery("Grace <Hopper>/..", UserFilter.INITIAL_PASSWORD), day
    )
    assert named == (
        "license-users_acme_a@x.example_search-grace-hopper_on-initial-password_2026-12-01.csv"
    )
    assert "/" not in export_filename("a/../b", "../@x.example", UserQuery("../../etc"), day)
