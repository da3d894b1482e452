"""Pure: a Summary as readable terminal text (the `lookup` command's output)."""

from __future__ import annotations

from typing import Any

from bot.licensespring.models import LicenseUser
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


def render_text(
    summary: Summary, *, max_users: int | None = None, selection: Selection | None = None
) -> str:
    customer = summary.customer
    title = " - ".join(part for part in (customer.name, customer.company_name) if part)
    lines = [
        f"{title or customer.email} <{customer.email}>  (product {summary.product})",
        f"Users: {summary.total}   active: {summary.active}   inactive: {summary.inactive}",
        f"Activations: {activations_text(summary)}",
        f"At activation limit: {_at_limit_text(summary)}   "
        f"On initial password: {_initial_password_text(summary)}",
    ]
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


def summary_json(summary: Summary, selection: Selection | None = None) -> dict[str, Any]:
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
        "users": [
            {**user.model_dump(), "at_activation_limit": user.at_activation_limit} for user in users
        ],
    }
