import json

import pytest

from bot.licensespring.models import MalformedBody, parse_customer_license_users

DOCUMENTED_EXAMPLE = {
    "customer": {
        "email": "test@example.com",
        "first_name": "",
        "last_name": "",
        "company_name": "",
        "phone": "",
        "reference": "",
        "address": "",
        "postcode": "",
        "city": "",
        "country": "",
        "state": "",
    },
    "users": [
        {
            "email": "test1@example.com",
            "is_active": True,
            "first_name": "",
            "last_name": "",
            "phone_number": "",
            "is_initial_password": True,
            "initial_password": "t218_uv@",
            "license_id": 34524352345,
            "order_store_id": "67e58562adfsfsdf1aff4b1f551d30326",
            "order_id": 45367563535423,
        },
        {
            "email": "test2@example.com",
            "is_active": True,
            "first_name": "0",
            "last_name": "0",
            "phone_number": "0",
            "is_initial_password": False,
            "initial_password": "",
            "license_id": 786856745645,
            "order_store_id": "gdfge34r4fqf44qqrf43f",
            "order_id": 653456345635,
        },
    ],
}


def test_documented_example_parses_without_the_password() -> None:
    answer = parse_customer_license_users(json.dumps(DOCUMENTED_EXAMPLE))
    assert answer.customer.email == "test@example.com"
    assert [u.email for u in answer.users] == ["test1@example.com", "test2@example.com"]
    first = answer.users[0]
    assert first.is_initial_password is True
    assert first.max_activations is None and first.total_activations is None
    assert "initial_password" not in first.model_dump()
    assert "t218_uv@" not in repr(answer)
    assert not hasattr(first, "initial_password")


def test_nulls_and_bad_values_do_not_fail_the_lookup() -> None:
    body = {
        "customer": {"email": "c@example.com", "first_name": None, "metadata": {"a": 1}},
        "users": [
            {
                "email": "u@example.com",
                "first_name": None,
                "license_id": "not-a-number",
                "max_activations": None,
                "total_activations": "3",
                "is_active": True,
                "initial_password": "hunter2",
            },
            "garbage",
        ],
    }
    answer = parse_customer_license_users(json.dumps(body))
    user = answer.users[0]
    assert user.first_name == ""
    assert user.license_id is None
    assert user.total_activations == 3
    assert len(answer.users) == 1
    assert "hunter2" not in repr(answer)


def test_missing_users_is_empty_and_null_customer_is_default() -> None:
    answer = parse_customer_license_users(b'{"customer": null, "users": null}')
    assert answer.users == ()
    assert answer.customer.email == ""


@pytest.mark.parametrize(
    "body", [b"", b"<html>502</html>", b"[1,2]", b'{"users": 5}', b"{}", b'{"customer": [broken']
)
def test_malformed_bodies_raise_malformed_body(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_customer_license_users(body)


def test_at_activation_limit() -> None:
    body = {
        "customer": {},
        "users": [
            {"email": "a@x.io", "max_activations": 2, "total_activations": 2},
            {"email": "b@x.io", "max_activations": 2, "total_activations": 1},
            {"email": "c@x.io", "max_activations": 0, "total_activations": 0},
        ],
    }
    users = parse_customer_license_users(json.dumps(body)).users
    assert [u.at_activation_limit for u in users] == [True, False, False]
