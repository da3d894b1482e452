"""Pure: license users -> CSV bytes and the export's file name.

The cells are customer data, opened in spreadsheets: every cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return is prefixed with `'` so no spreadsheet runs it as a
formula (OWASP, CSV injection), and every cell is quoted. The columns are fixed and never
include a password: the models hold none, and `COLUMNS` is the only list of what is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date

from bot.licensespring.models import LicenseUser
from bot.userlist import UserFilter, UserQuery

COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_initial_password",
    "total_activations",
    "max_activations",
    "license_id",
    "order_id",
    "order_store_id",
)
# Excel opens a CSV as UTF-8 only with the byte order mark; other readers ignore it.
ENCODING = "utf-8-sig"
MEDIA_TYPE = "text/csv"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FILE_PART_CHARS = 60
_SEARCH_PART_CHARS = 40


def safe_cell(value: str | int | bool | None) -> str:
    """One cell's text: booleans as true/false, None as empty, formula starts defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def user_row(user: LicenseUser) -> list[str]:
    return [
        safe_cell(value)
        for value in (
            user.email,
            user.first_name,
            user.last_name,
            user.is_active,
            user.is_initial_password,
            user.total_activations,
            user.max_activations,
            user.license_id,
            user.order_id,
            user.order_store_id,
        )
    ]


def users_csv(users: Iterable[LicenseUser]) -> bytes:
    """The users as CSV (header row first), encoded as ENCODING."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(map(user_row, users))
    return buffer.getvalue().encode(ENCODING)


def export_filename(product: str, customer_email: str, query: UserQuery, today: date) -> str:
    """`license-users_<product>_<customer>[_search-<words>][_<filter>]_<date>.csv`."""
    parts = ["license-users", _part(product), _part(customer_email)]
    if query.search:
        parts.append("search-" + _part(query.search, _SEARCH_PART_CHARS))
    if query.filter is not UserFilter.ALL:
        parts.append(_part(query.filter.label))
    parts.append(today.isoformat())
    return "_".join(part for part in parts if part) + ".csv"


def _part(text: str, limit: int = _FILE_PART_CHARS) -> str:
    """Letters, digits and `.@+-` of `text` (lower case), the rest as single dashes."""
    return "-".join(_words(text.lower()))[:limit].strip("-.") or "x"


def _words(text: str) -> Iterator[str]:
    word: list[str] = []
    for char in text:
        if char.isalnum() or char in ".@+":
            word.append(char)
        elif word:
            yield "".join(word)
            word = []
    if word:
        yield "".join(word)
