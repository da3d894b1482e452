import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.emails import emails_in_text, normalise_email


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("<mailto:ada@example.com|ada@example.com>", "ada@example.com"),
        ("<mailto:ada@example.com>", "ada@example.com"),
        ("ops+licenses@Example.COM", "ops+licenses@example.com"),
        ("  ada@example.com, ", "ada@example.com"),
        ("ada", None),
        ("ada@", None),
        ("@example.com", None),
        ("ada@localhost", None),
        ("a b@example.com", None),
        ("<@U123>", None),
        ("x" * 250 + "@example.com", None),
    ],
)
def test_normalise_email(token: str, expected: str | None) -> None:
    assert normalise_email(token) == expected


def test_emails_in_text_finds_escaped_and_raw_once_each() -> None:
    text = (
        "Customer <mailto:ada@example.com|ada@example.com> and bob@example.org wrote; "
        "cc ADA@example.com and <@U123>"
    )
    assert emails_in_text(text) == ["ada@example.com", "bob@example.org"]


@given(st.text())
def test_normalise_email_never_raises(text: str) -> None:
    result = normalise_email(text)
    assert result is None or "@" in result
