"""`python -m bench --quick` keeps working: every scenario's figures, the table, the targets.

Timings are not asserted: this machine's load says nothing about the bot. Deselect with
`-m 'not bench'`.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import NOT_AVAILABLE, OK, TARGETS
from bench.scenarios import SCENARIOS

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 240


def run_quick_bench(out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bench", "--quick", "--out", str(out)]
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # SIGTERM first: the bench then stops its own children before exiting.
            process.send_signal(signal.SIGTERM)
            try:
                stdout, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            pytest.fail(f"python -m bench --quick ran over {TIMEOUT_S}s\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    result = run_quick_bench(out)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-5000:]}"
    return result.stdout, json.loads(out.read_text(encoding="utf-8"))


def is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@pytest.mark.bench
def test_every_scenario_reports_all_its_figures(quick_bench: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_bench
    assert set(results["scenarios"]) == {scenario.name for scenario in SCENARIOS}
    for scenario in SCENARIOS:
        entry = results["scenarios"][scenario.name]
        if scenario.run is None:
            assert entry["status"] == NOT_AVAILABLE
            continue
        assert entry["status"] == OK, (scenario.name, entry["status"])
        assert scenario.figures, scenario.name
        missing = [name for name in scenario.figures if not is_number(entry["figures"].get(name))]
        assert not missing, (scenario.name, missing, entry["figures"])
        assert len(entry["runs"]) == 1


@pytest.mark.bench
def test_the_harness_did_real_work(quick_bench: tuple[str, dict[str, Any]]) -> None:
    """Commands got summaries: the figures are about lookups, not about failures.

    Only the lightly loaded scenarios: under the 200-command burst a slow machine may
    legitimately miss Bolt's 3 s ack deadline, which the table reports instead.
    """
    _, results = quick_bench
    figures = {
        name: value
        for entry in results["scenarios"].values()
        for name, value in entry["figures"].items()
    }
    for count in (
        "ack_wrong_answers",
        "e2e_failed",
        "cached_failed",
        "large_5k_failed",
        "large_50k_failed",
        "alerts_failed",
        "alerts_429s",
        "search_export_failed",
    ):
        assert figures[count] == 0, count
    assert figures["search_export_upstream_requests"] == 1
    assert figures["alerts_checked"] == figures["alerts_watches"] > 0
    assert figures["large_50k_body_mb"] > figures["large_5k_body_mb"] > 0


@pytest.mark.bench
def test_the_table_shows_every_scenario_and_target(
    quick_bench: tuple[str, dict[str, Any]],
) -> None:
    stdout, results = quick_bench
    assert f"{results['meta']['machine']['cores']} cores" in stdout
    for scenario in SCENARIOS:
        assert scenario.title.split(" (")[0].split(",")[0] in stdout, scenario.name
    assert "watches one worker keeps within a 15-minute interval" in stdout
    for target in TARGETS:
        assert target.label in stdout
    verdicts = [target["result"] for target in results["targets"]]
    assert len(verdicts) == len(TARGETS)
    assert set(verdicts) <= {"PASS", "FAIL"}


@pytest.mark.bench
def test_soak_runs_and_reports(tmp_path: Any) -> None:
    """A short soak through the same entry point as the real one; figures, not timings."""
    import json
    import subprocess
    import sys

    out = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "soak", "--count", "300", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert "soak: 300 requests" in result.stdout, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert figures["server_errors"] == 0
    assert figures["lost_replies"] == 0
    assert figures["duplicate_posts"] == 0
    assert figures["sent"]["duplicate"] > 0
