"""`python -m bot lookup PRODUCT EMAIL [SEARCH] [--json | --csv FILE|-]` against the sandbox."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bot.export import COLUMNS, ENCODING
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.test_cli import run_bot

PRODUCT = "acme-desktop"


@pytest.fixture
def sandbox_env(sandbox_url: str) -> dict[str, str]:
    return {
        "LICENSESPRING_API_URL": sandbox_url,
        "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
        "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
    }


def test_lookup_with_a_search_lists_the_matches_and_keeps_the_totals(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    result = run_bot("lookup", PRODUCT, seed.BIG, "Greta", "CHEN", env=sandbox_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Users: 5000" in result.stdout
    assert "4 of 5,000 users match 'Greta CHEN'" in result.stdout
    listed = [line for line in result.stdout.splitlines() if "license 2" in line]
    assert len(listed) == 4
    assert all("greta.chen." in line for line in listed)


def test_lookup_search_by_email_and_json(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    sought = "ada.lovelace@analytical.example"
    result = run_bot(
        "lookup", PRODUCT, seed.TYPICAL, sought, "--json", env=sandbox_env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["search"] == sought
    assert data["matching_users"] == 1
    assert data["counts"]["users"] == 8
    assert [user["email"] for user in data["users"]] == [sought]


def test_csv_to_a_file_holds_every_user(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    out = tmp_path / "all.csv"
    result = run_bot("lookup", PRODUCT, seed.BIG, "--csv", str(out), env=sandbox_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "wrote 5,000 users to" in result.stderr
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode(ENCODING))))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 5_001


def test_csv_to_stdout_with_a_search(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    result = run_bot(
        "lookup", PRODUCT, seed.INITIAL_PASSWORD, "fresh.example", "--csv", "-",
        env=sandbox_env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout.lstrip("\ufeff"))))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 5
    assert "initial_password" not in rows[0]


def test_a_too_long_search_and_json_with_csv_are_one_line_usage_errors(
    sandbox_env: dict[str, str], sandbox: SandboxState, tmp_path: Path
) -> None:
    long_search = run_bot("lookup", PRODUCT, seed.BIG, "x" * 1_000, env=sandbox_env, cwd=tmp_path)
    assert long_search.returncode == 2
    assert long_search.stderr.strip().splitlines() == [
        "The search is 1,000 characters long; keep it to 100 (a name or an e-mail)."
    ]
    both = run_bot(
        "lookup", PRODUCT, seed.BIG, "--json", "--csv", "-", env=sandbox_env, cwd=tmp_path
    )
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    assert sandbox.stats()["lookups"] == 0
