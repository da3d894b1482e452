"""The Workflow Builder step's outputs and inputs, as plain values."""

from __future__ import annotations

import json

import pytest

from bot.licensespring.models import Customer, CustomerLicenseUsers, LicenseUser
from bot.rendering.blocks import render_multi_product, render_summary
from bot.rendering.step_outputs import COUNT_OUTPUTS, TEXT_OUTPUTS, seat_outputs, step_outputs
from bot.slack.steps.inputs import (
    MISSING_EMAIL_TEXT,
    NO_PRODUCT_TEXT,
    StepInputError,
    StepRequest,
    parse_step_inputs,
)
from bot.summary import Summary, summarise
from bot.userlist import UserQuery


def user(email: str, *, active: bool = True, used: int = 0, maximum: int = 2) -> LicenseUser:
    return LicenseUser(
        email=email, is_active=active, total_activations=used, max_activations=maximum
    )


def summary_of(product: str, customer: Customer, users: list[LicenseUser]) -> Summary:
    return summarise(product, CustomerLicenseUsers(customer=customer, users=tuple(users)))


CUSTOMER = Customer(email="c@example.com", first_name="Grace", last_name="Hopper")
TYPICAL = summary_of(
    "desk",
    CUSTOMER,
    [
        user("a@example.com", used=2, maximum=2),
        user("b@example.com", used=1),
        LicenseUser(email="c@example.com", is_active=False, is_initial_password=True),
    ],
)


def test_one_product_gives_counts_and_the_replys_fallback() -> None:
    outputs = step_outputs([("desk", TYPICAL)], lookup_email="c@example.com")
    assert set(outputs) == set(TEXT_OUTPUTS) | set(COUNT_OUTPUTS)
    assert {name: outputs[name] for name in COUNT_OUTPUTS} == {
        "users": 3,
        "active_users": 2,
        "activations_used": 3,
        "activations_max": 4,
        "at_activation_limit": 1,
        "on_initial_password": 1,
    }
    assert outputs["customer_name"] == "Grace Hopper"
    assert outputs["customer_email"] == "c@example.com"
    reply = render_summary(TYPICAL, lookup_email="c@example.com")
    assert outputs["summary"] == reply.text


def test_several_products_add_up_and_keep_the_failure_sentences() -> None:
    other = summary_of("cli", CUSTOMER, [user("z@example.com", used=1, maximum=1)])
    results: list[tuple[str, Summary | str]] = [
        ("desk", TYPICAL),
        ("cli", other),
        ("keyed", ":x: Not user-based."),
    ]
    outputs = step_outputs(results, lookup_email="c@example.com")
    assert outputs["users"] == 4
    assert outputs["at_activation_limit"] == 2
    assert outputs["activations_max"] == 5
    assert outputs["summary"] == render_multi_product("c@example.com", results).text
    assert "keyed: :x: Not user-based." in str(outputs["summary"])


def test_text_outputs_are_mrkdwn_safe() -> None:
    mischief = Customer(email="m@example.com", first_name="<!channel>", last_name="<@U1> & co")
    outputs = step_outputs(
        [("desk", summary_of("desk", mischief, []))], lookup_email="m@example.com"
    )
    assert outputs["customer_name"] == "&lt;!channel&gt; &lt;@U1&gt; &amp; co"
    assert "<!channel>" not in str(outputs["summary"])
    assert "<@U1>" not in str(outputs["summary"])


def test_a_company_without_a_person_names_the_customer() -> None:
    company = Customer(email="x@example.com", company_name="ACME Ltd")
    outputs = step_outputs(
        [("desk", summary_of("desk", company, []))], lookup_email="x@example.com"
    )
    assert outputs["customer_name"] == "ACME Ltd"
    assert outputs["users"] == 0


def test_fifty_thousand_users_give_the_same_few_outputs() -> None:
    users = [user(f"u{n}@example.com", used=n % 3) for n in range(50_000)]
    outputs = step_outputs([("desk", summary_of("desk", CUSTOMER, users))], lookup_email="c@e.com")
    assert outputs["users"] == 50_000
    assert len(json.dumps(outputs)) < 1_000


def test_a_search_is_said_in_the_summary_and_leaves_the_counts_whole() -> None:
    from bot.userlist import UserIndex

    selection = UserIndex(TYPICAL, TYPICAL.users).select(UserQuery("b@example"))
    outputs = step_outputs([("desk", TYPICAL)], lookup_email="c@example.com", selection=selection)
    assert outputs["users"] == 3
    assert "1 of 3 users matches `b@example`" in str(outputs["summary"])


def test_no_summary_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="at least one Summary"):
        step_outputs([("desk", "failed")], lookup_email="c@example.com")


def test_seats_are_not_filled_until_a_summary_carries_them() -> None:
    assert seat_outputs([TYPICAL]) == {}


# --- inputs ---------------------------------------------------------------------------


def parse(
    products: tuple[str, ...] = ("desk", "cli"), default: str | None = None, **inputs: object
) -> StepRequest | StepInputError:
    return parse_step_inputs(inputs, products=products, default_product=default)


def test_inputs_name_the_lookup() -> None:
    assert parse(customer_email=" <mailto:A@B.example|A@B.example> ", product="DESK") == (
        StepRequest(("desk",), "A@b.example", None, None)
    )
    assert parse(customer_email="a@b.example", requested_by="U1", search=" grace ") == (
        StepRequest(("desk", "cli"), "a@b.example", "grace", "U1")
    )
    assert parse(default="cli", customer_email="a@b.example") == StepRequest(
        ("cli",), "a@b.example", None, None
    )


@pytest.mark.parametrize(
    ("inputs", "text"),
    [
        ({}, MISSING_EMAIL_TEXT),
        ({"customer_email": None}, MISSING_EMAIL_TEXT),
        ({"customer_email": 42}, MISSING_EMAIL_TEXT),
        ({"customer_email": "nope"}, ":x: `nope` is not a valid e-mail address."),
        (
            {"customer_email": "a@b.example", "product": "x y"},
            ":x: `x y` is not a product short code.",
        ),
        (
            {"customer_email": "a@b.example", "search": "x" * 101},
            ":x: The search is 101 characters long; keep it to 100 (a name or an e-mail).",
        ),
    ],
)
def test_unusable_inputs_say_why(inputs: dict[str, object], text: str) -> None:
    parsed = parse(**inputs)  # type: ignore[arg-type]
    assert isinstance(parsed, StepInputError)
    assert parsed.text == text


def test_no_product_anywhere_says_how_to_configure_one() -> None:
    parsed = parse((), None, customer_email="a@b.example")
    assert isinstance(parsed, StepInputError)
    assert parsed.text == NO_PRODUCT_TEXT
