"""Pure: a Summary as readable terminal text (the `lookup` command's output)."""

from __future__ import annotations

from typing import Any

from bot.licensespring.models import LicenseUser
from bot.reverse import CustomerMatch, Found, ReverseLookup
from bot.seats import Seats, SeatsState
from bot.summary import Activations, Concern, Summary, concern_of
from bot.userlist import Selection, UserFilter

_MARKERS = {
    Concern.AT_LIMIT: "LIMIT ",
    Concern.INITIAL_PASSWORD: "INITPW",
    Concern.ACTIVE: "active",
    Concern.INACTIVE: "off   ",
}
_INACTIVE_ON_INITIAL = "off,PW"


def activation_bar(used: int, maximum: int | None, width: int = 10) -> str:
    if not maximum or maximum <= 0:
        return "?" * width
    filled = min(width, round(width * used / maximum))
    return "#" * filled + "." * (width - filled)


def _figure(activations: Activations) -> str:
    utilisation = activations.utilisation
    if utilisation is None:
        return f"{activations.used} used, maximum unknown"
    bar = activation_bar(activations.used, activations.maximum)
    return f"{activations.used}/{activations.maximum} ({utilisation:.0%}) [{bar}]"


def activations_text(summary: Summary) -> str:
    """Every license user's activations, then the active users' share when it differs."""
    text = _figure(summary.activations)
    if summary.inactive:
        text += f"   active users: {_figure(summary.active_activations)}"
    return text


def _at_limit_text(summary: Summary) -> str:
    text = str(len(summary.at_limit))
    if summary.inactive_at_limit:
        text += f" (and {summary.inactive_at_limit} inactive)"
    return text


def _initial_password_text(summary: Summary) -> str:
    text = str(len(summary.on_initial_password))
    if summary.inactive_on_initial_password:
        text += f" ({summary.inactive_on_initial_password} inactive)"
    return text


def _marker(user: LicenseUser) -> str:
    concern = concern_of(user)
    if concern is Concern.INACTIVE and user.is_initial_password:
        return _INACTIVE_ON_INITIAL
    return _MARKERS[concern]


def _user_line(user: LicenseUser) -> str:
    used = user.total_activations or 0
    maximum = user.max_activations
    activations = f"{used}/{maximum if maximum is not None else '?'}"
    name = user.name or "-"
    license_id = user.license_id if user.license_id is not None else "-"
    order_id = user.order_id if user.order_id is not None else "-"
    bar = activation_bar(used, maximum)
    return (
        f"  {_marker(user)}  {user.email or '-':<36} {name:<24} "
        f"{activations:>7} [{bar}]  license {license_id}  order {order_id}"
    )


def selection_text(selection: Selection) -> str:
    """ "3 of 5,000 users match 'greta'", for the terminal."""
    query = selection.query
    clauses = []
    if query.search:
        clauses.append(f"match {query.search!r}")
    if query.filter is not UserFilter.ALL:
        clauses.append(f"are {query.filter.phrase}")
    return f"{selection.count:,} of {selection.total:,} users {' and '.join(clauses)}"


MORE_LICENSES_THAN = 1_000


def seats_text(seats: Seats) -> list[str]:
    """ "Seats: 8 / 15, 1 license full" and one line per license, full ones first."""
    if seats.state is SeatsState.UNREADABLE:
        return ["Seats: could not be read"]
    if seats.state is SeatsState.TOO_MANY:
        return [f"Seats: not counted: more than {MORE_LICENSES_THAN:,} licenses"]
    parts = []
    if seats.capped:
        parts.append(f"{seats.used:,} / {seats.maximum:,}")
    if seats.unlimited_used or not seats.capped:
        parts.append(f"{seats.unlimited_used:,} on licenses without a seat cap")
    if seats.full:
        parts.append(f"{len(seats.full)} license{'s' if len(seats.full) != 1 else ''} full")
    lines = ["Seats: " + ", ".join(parts)]
    for lic in seats.licenses:
        cap = f"{lic.cap:,}" if lic.cap else "no cap"
        full = "  FULL" if lic.full else ""
        lines.append(
            f"  license {lic.license_id if lic.license_id is not None else '-'}: "
            f"{lic.used:,} / {cap}{full}"
        )
    return lines


def _customer_words(customer: CustomerMatch) -> str:
    return customer.company or customer.name or customer.email


def reverse_text(reverse: ReverseLookup, product: str) -> str:
    """One line: what the Management API said about an e-mail that is no customer's."""
    user = reverse.license_user
    if reverse.found is Found.ONE and reverse.customers:
        customer = reverse.customers[0]
        return f"{user} is a license user of {_customer_words(customer)} ({customer.email})"
    if reverse.found is Found.NO_KEY:
        return (
            "Setting LICENSESPRING_MANAGEMENT_API_KEY lets the bot find customers from their "
            "license users' e-mails."
        )
    if reverse.found is Found.NONE:
        return f"{user} is not a license user either."
    if reverse.found is Found.FAILED:
        return f"Could not ask whether {user} is a license user: {reverse.failure or ''}".strip()
    if reverse.found is Found.UNKNOWN_CUSTOMER and reverse.customers:
        customer = reverse.customers[0]
        return (
            f"{user} is a license user of {_customer_words(customer)} ({customer.email}), "
            f"but LicenseSpring has no such customer in {product}."
        )
    names = "; ".join(f"{_customer_words(c)} ({c.email})" for c in reverse.customers)
    return f"{user} is a license user of {len(reverse.customers)} customers: {names}"


def reverse_json(reverse: ReverseLookup) -> dict[str, Any]:
    return {
        "license_user": reverse.license_user,
        "found": reverse.found.value,
        "customers": [
            {"email": c.email, "name": c.name, "company_name": c.company} for c in reverse.customers
        ],
        **({"failure": reverse.failure} if reverse.failure else {}),
    }


def seats_json(seats: Seats) -> dict[str, Any]:
    if not seats.counted:
        return {"state": seats.state.value}
    return {
        "state": seats.state.value,
        "used": seats.used,
        "max": seats.maximum,
        "unlimited_used": seats.unlimited_used,
        "full_licenses": len(seats.full),
        "licenses": [
            {"id": lic.license_id, "used": lic.used, "max": lic.cap, "full": lic.full}
            for lic in seats.licenses
        ],
    }


def render_text(
    summary: Summary,
    *,
    max_users: int | None = None,
    selection: Selection | None = None,
    seats: Seats | None = None,
    reverse: ReverseLookup | None = None,
) -> str:
    customer = summary.customer
    title = " - ".join(part for part in (customer.name, customer.company_name) if part)
    lines = [reverse_text(reverse, summary.product)] if reverse is not None else []
    lines += [
        f"{title or customer.email} <{customer.email}>  (product {summary.product})",
        f"Users: {summary.total}   active: {summary.active}   inactive: {summary.inactive}",
        f"Activations: {activations_text(summary)}",
        f"At activation limit: {_at_limit_text(summary)}   "
        f"On initial password: {_initial_password_text(summary)}",
    ]
    if seats is not None:
        lines.extend(seats_text(seats))
    if not summary.users:
        lines.append("No license users for this customer.")
        return "\n".join(lines)
    users = summary.users
    if selection is not None and not selection.query.everyone:
        lines.append(selection_text(selection))
        users = selection.users
    shown = users if max_users is None else users[:max_users]
    if shown:
        lines.append("")
    lines.extend(_user_line(user) for user in shown)
    if len(shown) < len(users):
        lines.append(f"  ... and {len(users) - len(shown)} more (use --all, --json or --csv)")
    return "\n".join(lines)


def summary_json(
    summary: Summary,
    selection: Selection | None = None,
    *,
    seats: Seats | None = None,
    reverse: ReverseLookup | None = None,
) -> dict[str, Any]:
    """The lookup as plain JSON-ready data. Built from the models, which hold no passwords.

    With a search or filter in `selection`, `users` holds the matching users only (the counts
    stay the customer's) and `search`, `filter` and `matching_users` say which.
    """
    users = summary.users
    extra: dict[str, Any] = {}
    if selection is not None and not selection.query.everyone:
        users = selection.users
        extra = {
            "search": selection.query.search,
            "filter": selection.query.filter.value,
            "matching_users": selection.count,
        }
    return {
        "product": summary.product,
        "customer": summary.customer.model_dump(),
        "counts": {
            "users": summary.total,
            "active": summary.active,
            "inactive": summary.inactive,
            # Every license user, as LicenseSpring's portal adds them up.
            "activations_used": summary.activations_used,
            "activations_max": summary.activations_max,
            "utilisation": summary.utilisation,
            "users_without_max": summary.users_without_max,
            # The active users' share of those figures.
            "active_users_activations_used": summary.active_activations.used,
            "active_users_activations_max": summary.active_activations.maximum,
            "active_users_utilisation": summary.active_activations.utilisation,
            "at_activation_limit": len(summary.at_limit),
            "inactive_at_activation_limit": summary.inactive_at_limit,
            "on_initial_password": len(summary.on_initial_password),
            "inactive_on_initial_password": summary.inactive_on_initial_password,
        },
        **extra,
        **({"seats": seats_json(seats)} if seats is not None else {}),
        **({"found_from": reverse_json(reverse)} if reverse is not None else {}),
        "users": [
            {**user.model_dump(), "at_activation_limit": user.at_activation_limit} for user in users
        ],
    }
