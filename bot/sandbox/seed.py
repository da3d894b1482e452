"""Seeded, deterministic data for the sandbox License API.

Every answer body is shaped like the real `customer_license_users` answer, including the
plain-text `initial_password` the real API returns, so that the client's dropping of it can be
tested. The passwords here are generated, fake and never printed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

Body = dict[str, Any]
"""One `customer_license_users` answer: `{"customer": {...}, "users": [...]}`."""

SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_SHARED_KEY = "sandbox-shared-key-not-secret"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - a public demo value

USER_PRODUCTS = ("acme-desktop", "acme-cli")
KEY_PRODUCT = "acme-keyed"
KEY_PRODUCTS = frozenset({KEY_PRODUCT})

TYPICAL = "ada@analytical.example"
EMPTY = "empty@example.com"
ALL_INACTIVE = "dormant@example.com"
AT_LIMIT = "full@example.com"
INITIAL_PASSWORD = "fresh@example.com"  # noqa: S105 - an e-mail, not a password
UNICODE = "zoe@example.com"
MISCHIEF = "mischief@example.com"
PLUS = "ops+licenses@example.com"
SPARSE = "sparse@example.com"
BIG = "bigcorp@example.com"
HUGE = "huge@example.com"
# Customers whose license users support writes in about (the Management API's reverse lookup).
ACME = "buyer@acme.example"
GLOBEX = "it@globex.example"
LICENSE_USER = "jane@acme.example"  # a license user of ACME only
SHARED_USER = "pat.consultant@example.org"  # a license user of both ACME and GLOBEX
ORPHAN_USER = "orphan.user@example.net"  # on a license of a customer the License API lacks
ORPHAN_CUSTOMER = "gone@example.net"
SANDBOX_MANAGEMENT_API_KEY = "sandbox-management-key"

BIG_USER_COUNT = 5_000
HUGE_USER_COUNT = 50_000

# Text a renderer must neutralise before it reaches Slack: mentions, links, entities, markup.
MISCHIEF_SEQUENCES = (
    "<!channel>",
    "<!here>",
    "<@U123ABC>",
    "<https://evil.example|click me>",
    "&amp; & <b>",
    "*bold*",
    "`code`",
)

_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789_@#"  # noqa: S105 - an alphabet


def _digest_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _fake_password(seed_text: str) -> str:
    number = _digest_int("password:" + seed_text)
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(_PASSWORD_ALPHABET))
        chars.append(_PASSWORD_ALPHABET[index])
    return "".join(chars)


def customer_record(
    email: str,
    first_name: str = "",
    last_name: str = "",
    company_name: str = "",
    **fields: Any,
) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "company_name": company_name,
        "phone": "",
        "reference": "",
        "address": "",
        "postcode": "",
        "city": "",
        "country": "",
        "state": "",
        "customer_account": None,
        "metadata": {},
    }
    customer.update(fields)
    return customer


def license_user(
    email: str,
    first_name: str,
    last_name: str,
    *,
    active: bool = True,
    max_activations: int = 1,
    total_activations: int = 0,
    initial_password: bool = False,
) -> dict[str, Any]:
    """A user with every documented field; ids and the fake password derive from the e-mail."""
    number = _digest_int(email)
    return {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone_number": "",
        "is_active": active,
        "is_initial_password": initial_password,
        "initial_password": _fake_password(email) if initial_password else "",
        "license_id": 10_000_000 + number % 90_000_000,
        "order_id": 50_000_000 + (number >> 20) % 50_000_000,
        "order_store_id": f"ord_{number:016x}",
        "max_activations": max_activations,
        "total_activations": total_activations,
    }


def _body(customer: dict[str, Any], users: list[dict[str, Any]]) -> Body:
    return {"customer": customer, "users": users}


UserRow = tuple[str, str, str, bool, int, int, bool]
"""e-mail, first name, last name, active, max activations, total activations, initial password."""


def _users(rows: tuple[UserRow, ...]) -> list[dict[str, Any]]:
    return [
        license_user(
            email,
            first,
            last,
            active=active,
            max_activations=maximum,
            total_activations=total,
            initial_password=initial,
        )
        for email, first, last, active, maximum, total, initial in rows
    ]


_TYPICAL_DESKTOP_USERS: tuple[UserRow, ...] = (
    ("ada.lovelace@analytical.example", "Ada", "Lovelace", True, 2, 2, False),
    ("charles.babbage@analytical.example", "Charles", "Babbage", True, 3, 1, False),
    ("mary.somerville@analytical.example", "Mary", "Somerville", True, 1, 0, True),
    ("augustus.demorgan@analytical.example", "Augustus", "De Morgan", False, 5, 1, False),
    ("luigi.menabrea@analytical.example", "Luigi", "Menabrea", True, 5, 4, False),
    ("michael.faraday@analytical.example", "Michael", "Faraday", True, 2, 1, False),
    ("john.herschel@analytical.example", "John", "Herschel", False, 1, 0, False),
    ("george.boole@analytical.example", "George", "Boole", True, 4, 3, False),
)
_TYPICAL_CLI_USERS: tuple[UserRow, ...] = (
    ("ada.lovelace@analytical.example", "Ada", "Lovelace", True, 1, 1, False),
    ("herman.hollerith@analytical.example", "Herman", "Hollerith", True, 2, 0, True),
    ("grace.hopper@analytical.example", "Grace", "Hopper", True, 3, 2, False),
)
_ALL_INACTIVE_USERS: tuple[UserRow, ...] = (
    ("rip.vanwinkle@dormant.example", "Rip", "Van Winkle", False, 2, 1, False),
    ("briar.rose@dormant.example", "Briar", "Rose", False, 1, 0, False),
    ("endymion@dormant.example", "Endymion", "Latmus", False, 3, 3, False),
    ("epimenides@dormant.example", "Epimenides", "Knossos", False, 1, 0, True),
)
_AT_LIMIT_USERS: tuple[UserRow, ...] = (
    ("alpha@full.example", "Alpha", "Full", True, 1, 1, False),
    ("bravo@full.example", "Bravo", "Full", True, 3, 3, False),
    ("charlie@full.example", "Charlie", "Full", True, 5, 5, False),
    ("delta@full.example", "Delta", "Spare", True, 4, 2, False),
    ("echo@full.example", "Echo", "Spare", True, 2, 0, False),
)
_INITIAL_PASSWORD_USERS: tuple[UserRow, ...] = (
    ("new.starter@fresh.example", "New", "Starter", True, 2, 0, True),
    ("intern@fresh.example", "Ivy", "Intern", True, 1, 0, True),
    ("contractor@fresh.example", "Cody", "Contractor", True, 3, 1, True),
    ("veteran@fresh.example", "Vera", "Veteran", True, 3, 2, False),
)
_UNICODE_USERS: tuple[UserRow, ...] = (
    ("zoe.nunez@example.com", "Zoë", "Ñúñez", True, 2, 1, False),
    ("taro.yamada@example.jp", "太郎", "山田", True, 3, 3, False),
    ("yamada.taro@example.jp", "山田 太郎", "", True, 1, 0, False),
    ("olafur@example.is", "Ólafur", "Ragnar", True, 1, 0, True),
    ("francois@example.fr", "François", "Lefèvre-Müller", False, 2, 0, False),
    ("aisha@example.eg", "عائشة", "المصري", True, 4, 2, False),
)
_MISCHIEF_USERS: tuple[UserRow, ...] = (
    ("channel@mischief.example", "<!channel>", "Ping", True, 2, 1, False),
    ("here@mischief.example", "Everyone", "<!here>", True, 1, 0, True),
    ("<@U123ABC>@mischief.example", "Mention", "<@U123ABC>", True, 3, 3, False),
    (
        "<https://evil.example|click me>",
        "<https://evil.example|click me>",
        "Link",
        False,
        1,
        0,
        False,
    ),
    ("amp&amp;@mischief.example", "&amp; & <b>", "Entity", True, 2, 0, False),
    ("*bold*@mischief.example", "*bold*", "_italic_ ~strike~", True, 2, 2, False),
    ("`code`@mischief.example", "`code`", "```block```", True, 1, 0, False),
)
_PLUS_USERS: tuple[UserRow, ...] = (
    ("ops+alice@example.com", "Alice", "Ops", True, 2, 1, False),
    ("ops+bob@example.com", "Bob", "Ops", True, 1, 0, True),
    ("ops+carol@example.com", "Carol", "Ops", True, 3, 3, False),
)


_ACME_USERS: tuple[UserRow, ...] = (
    ("jane@acme.example", "Jane", "Doe", True, 1, 1, False),
    ("raj@acme.example", "Raj", "Patel", True, 2, 0, True),
    ("pat.consultant@example.org", "Pat", "Consultant", True, 2, 1, False),
)
_GLOBEX_USERS: tuple[UserRow, ...] = (
    ("homer@globex.example", "Homer", "Simpson", True, 1, 0, False),
    ("pat.consultant@example.org", "Pat", "Consultant", True, 1, 0, False),
)


def _typical_desktop() -> Body:
    customer = customer_record(
        TYPICAL,
        "Ada",
        "Lovelace",
        "Analytical Engines Ltd",
        phone="+44 20 7946 0000",
        reference="AE-1843",
        address="12 St James's Square",
        postcode="SW1Y 4JH",
        city="London",
        country="United Kingdom",
    )
    return _body(customer, _users(_TYPICAL_DESKTOP_USERS))


def _mischief() -> Body:
    users = _users(_MISCHIEF_USERS)
    users[-1]["phone_number"] = "<!channel>"
    customer = customer_record(
        MISCHIEF,
        "<!channel>",
        "<@U123ABC>",
        "Evil & Co <b>*bold*</b> `code` <https://evil.example|click me> <!here>",
        reference="&amp; & <b>",
        phone="<!here>",
    )
    return _body(customer, users)


def _sparse() -> Body:
    # Shaped like the documented 200 example: no activation counts, some nulls.
    users: list[dict[str, Any]] = [
        {
            "email": "sparse1@example.com",
            "is_active": True,
            "first_name": "",
            "last_name": "",
            "phone_number": "",
            "is_initial_password": True,
            "initial_password": _fake_password("sparse1@example.com"),
            "license_id": 34524352345,
            "order_store_id": "67e58562adfsfsdf1aff4b1f551d30326",
            "order_id": 45367563535423,
        },
        {
            "email": "sparse2@example.com",
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
        {
            "email": "sparse3@example.com",
            "is_active": False,
            "first_name": None,
            "last_name": None,
            "phone_number": None,
            "is_initial_password": False,
            "initial_password": None,
            "license_id": 786856745646,
            "order_store_id": None,
            "order_id": None,
        },
    ]
    return _body({"email": SPARSE}, users)


_FIRST_NAMES = (
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Kavya", "Liam", "Mei", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq",
    "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zara", "Amara", "Björn", "Chloé", "Diego",
)  # fmt: skip
_LAST_NAMES = (
    "Anderson", "Bianchi", "Chen", "Dubois", "Eriksson", "Fischer", "García", "Hansen",
    "Ivanova", "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Petrov",
    "Quispe", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Wójcik", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
_MAX_ACTIVATIONS = (1, 1, 2, 2, 3, 3, 5, 10)


def _generated_user(rng: random.Random, index: int, domain: str) -> dict[str, Any]:
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    max_activations = rng.choice(_MAX_ACTIVATIONS)
    roll = rng.random()
    if roll < 0.15:
        total_activations = max_activations
    elif roll < 0.30:
        total_activations = 0
    else:
        total_activations = rng.randint(0, max_activations - 1) if max_activations > 1 else 0
    initial_password = rng.random() < 0.12
    password = "".join(rng.choices(_PASSWORD_ALPHABET, k=10)) if initial_password else ""
    return {
        "email": f"{first.lower()}.{last.lower()}.{index}@{domain}",
        "first_name": first,
        "last_name": last,
        "phone_number": f"+1 555 {rng.randint(0, 9999):04d}" if rng.random() < 0.4 else "",
        "is_active": rng.random() < 0.85,
        "is_initial_password": initial_password,
        "initial_password": password,
        "license_id": 200_000_000 + index,
        "order_id": 300_000_000 + index // 25,
        "order_store_id": f"po-{index // 25:06d}",
        "max_activations": max_activations,
        "total_activations": total_activations,
    }


def generated_users(count: int, *, seed: int, domain: str) -> list[dict[str, Any]]:
    """`count` realistic users, the same ones for the same arguments."""
    rng = random.Random(seed)
    return [_generated_user(rng, index, domain) for index in range(count)]


def _big() -> Body:
    users = generated_users(BIG_USER_COUNT, seed=5_000, domain="bigcorp.example")
    return _body(customer_record(BIG, "Bea", "Corp", "BigCorp International", country="US"), users)


def build_huge() -> Body:
    """50,000 users: built on first request, not at start-up."""
    users = generated_users(HUGE_USER_COUNT, seed=50_000, domain="huge.example")
    return _body(customer_record(HUGE, "Hugo", "Mass", "Huge Holdings"), users)


def seed_customers() -> dict[str, dict[str, Body]]:
    """product -> lowercase e-mail -> answer body. Deterministic; excludes the lazy HUGE."""
    unicode_customer = customer_record(
        UNICODE, "Zoë", "Ñúñez", "Café Ünïcode 🚀 S.L.", city="Málaga", country="España"
    )
    desktop: dict[str, Body] = {
        TYPICAL: _typical_desktop(),
        EMPTY: _body(customer_record(EMPTY, "Emma", "Tee", "Nobody Yet Ltd"), []),
        ALL_INACTIVE: _body(
            customer_record(ALL_INACTIVE, "Dora", "Mant", "Sleepy Hollow Inc"),
            _users(_ALL_INACTIVE_USERS),
        ),
        AT_LIMIT: _body(
            customer_record(AT_LIMIT, "Fulton", "Maxwell", "Capacity Planning plc"),
            _users(_AT_LIMIT_USERS),
        ),
        INITIAL_PASSWORD: _body(
            customer_record(INITIAL_PASSWORD, "Fresh", "Start", "Onboarding GmbH"),
            _users(_INITIAL_PASSWORD_USERS),
        ),
        UNICODE: _body(unicode_customer, _users(_UNICODE_USERS)),
        MISCHIEF: _mischief(),
        PLUS: _body(
            customer_record(PLUS, "Ops", "Team", "Plus Addressing Co"), _users(_PLUS_USERS)
        ),
        SPARSE: _sparse(),
        BIG: _big(),
        ACME: _body(customer_record(ACME, "Bea", "Buyer", "Acme Ltd"), _users(_ACME_USERS)),
        GLOBEX: _body(
            customer_record(GLOBEX, "Gil", "Bex", "Globex Corporation"), _users(_GLOBEX_USERS)
        ),
    }
    typical_cli = _body(
        customer_record(TYPICAL, "Ada", "Lovelace", "Analytical Engines Ltd"),
        _users(_TYPICAL_CLI_USERS),
    )
    cli: dict[str, Body] = {TYPICAL: typical_cli}
    return {"acme-desktop": desktop, "acme-cli": cli}


def lazy_customers() -> dict[str, dict[str, Callable[[], Body]]]:
    """product -> lowercase e-mail -> builder, for customers too large to build at start-up."""
    return {"acme-desktop": {HUGE: build_huge}}
