from bot.licensespring.models import Customer, CustomerLicenseUsers, LicenseUser
from bot.summary import Activations, Concern, concern_of, summarise


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
    # The headline counts every license user; the active users' share is kept beside it.
    assert summary.activations_used == 9
    assert summary.activations_max == 12
    assert summary.users_without_max == 1
    assert summary.active_activations == Activations(used=6, maximum=9, users_without_max=1)
    assert [u.email for u in summary.at_limit] == ["full@x.io"]
    assert [u.email for u in summary.on_initial_password] == ["new@x.io"]
    assert summary.utilisation is not None and abs(summary.utilisation - 9 / 12) < 1e-9


def portal_example() -> CustomerLicenseUsers:
    """17 users holding 37 of 69 activations; the 6 inactive ones hold 8 of 20."""
    active = [user(f"a{i:02}@x.io", used=3, maximum=5, initial=i == 0) for i in range(9)]
    active += [user("a09@x.io", used=1, maximum=2), user("a10@x.io", used=1, maximum=2)]
    inactive = [user(f"i{i}@x.io", active=False, used=2, maximum=5) for i in range(4)]
    inactive += [
        user("i4@x.io", active=False, used=0, maximum=0, initial=True),
        user("i5@x.io", active=False, used=0, maximum=None),
    ]
    return CustomerLicenseUsers(users=(*active, *inactive))


def test_headline_activations_count_every_user_as_the_portal_does() -> None:
    summary = summarise("p", portal_example())
    assert (summary.total, summary.active, summary.inactive) == (17, 11, 6)
    assert (summary.activations_used, summary.activations_max) == (37, 69)
    assert (summary.active_activations.used, summary.active_activations.maximum) == (29, 49)
    assert summary.users_without_max == 2
    assert summary.active_activations.users_without_max == 0


def test_on_initial_password_counts_inactive_users_and_says_how_many() -> None:
    summary = summarise("p", portal_example())
    assert [u.email for u in summary.on_initial_password] == ["a00@x.io", "i4@x.io"]
    assert summary.inactive_on_initial_password == 1


def test_zero_users_and_unknown_maximum() -> None:
    summary = summarise("p", CustomerLicenseUsers())
    assert summary.total == 0
    assert summary.utilisation is None
    assert concern_of(user("x@y.io", active=False)) is Concern.INACTIVE
