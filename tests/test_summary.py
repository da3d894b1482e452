from bot.licensespring.models import Customer, CustomerLicenseUsers, LicenseUser
from bot.summary import Concern, concern_of, summarise


def user(
    email: str,
    *,
    active: bool = True,
    used: int | None = 0,
    maximum: int | None = 3,
    initial: bool = False,
) -> LicenseUser:
    return LicenseUser(
        email=email,
        is_active=active,
        total_activations=used,
        max_activations=maximum,
        is_initial_password=initial,
    )


def test_counts_and_problem_first_order() -> None:
    answer = CustomerLicenseUsers(
        customer=Customer(email="c@example.com", company_name="ACME"),
        users=(
            user("zed@x.io", used=1),
            user("off@x.io", active=False, used=3, maximum=3),
            user("full@x.io", used=3, maximum=3),
            user("new@x.io", initial=True),
            user("nomax@x.io", used=2, maximum=None),
        ),
    )
    summary = summarise("p", answer)
    assert summary.total == 5
    assert summary.active == 4
    assert summary.inactive == 1
    assert [u.email for u in summary.users] == [
        "full@x.io",
        "new@x.io",
        "nomax@x.io",
        "zed@x.io",
        "off@x.io",
    ]
    # Only active users' activations count; users without a maximum are counted apart.
    assert summary.activations_used == 6
    assert summary.activations_max == 9
    assert summary.users_without_max == 1
    assert [u.email for u in summary.at_limit] == ["full@x.io"]
    assert [u.email for u in summary.on_initial_password] == ["new@x.io"]
    assert summary.utilisation is not None and abs(summary.utilisation - 6 / 9) < 1e-9


def test_zero_users_and_unknown_maximum() -> None:
    summary = summarise("p", CustomerLicenseUsers())
    assert summary.total == 0
    assert summary.utilisation is None
    assert concern_of(user("x@y.io", active=False)) is Concern.INACTIVE
