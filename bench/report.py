"""Results: medians over runs, the table, the targets with PASS/FAIL, and the JSON file."""

from __future__ import annotations

import json
import math
import operator
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import Figures, Scenario, Table
from bench.stats import median

OK = "ok"
NOT_AVAILABLE = "not available yet"


@dataclass
class ScenarioResult:
    scenario: Scenario
    status: str  # OK, NOT_AVAILABLE, or "error: ..."
    runs: list[Figures] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def figures(self) -> Figures:
        return aggregate(self.scenario, self.runs)


def aggregate(scenario: Scenario, runs: Sequence[Figures]) -> Figures:
    """Each figure's median over the runs; maxima and counts in `scenario.worst`: the worst."""
    names = list(dict.fromkeys(name for run in runs for name in run))
    figures: Figures = {}
    for name in names:
        values = [run[name] for run in runs if name in run]
        if name in scenario.worst:
            seen = [value for value in values if not math.isnan(value)]
            figures[name] = max(seen) if seen else math.nan
        else:
            figures[name] = median(values)
    return figures


# --- targets ---------------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Target:
    label: str
    figure: str
    op: str
    limit: float

    def verdict(self, figures: Figures) -> str:
        value = figures.get(self.figure, math.nan)
        if math.isnan(value):
            return "n/a"
        return "PASS" if _OPERATORS[self.op](value, self.limit) else "FAIL"


TARGETS: tuple[Target, ...] = (
    Target("ack p50 bot/floor <= 1.25 at concurrency 1", "ack_c1_ratio_p50", "<=", 1.25),
    Target("ack p50 bot/floor <= 1.25 at concurrency 20", "ack_c20_ratio_p50", "<=", 1.25),
    Target("ack p50 bot/floor <= 1.25 at concurrency 100", "ack_c100_ratio_p50", "<=", 1.25),
    Target("every ack under 3 s at concurrency 200 (max ms)", "ack_burst_bot_max_ms", "<", 3000),
    Target("e2e overhead p50 <= 25 ms at concurrency 1", "e2e_c1_overhead_p50_ms", "<=", 25),
    Target("e2e overhead p99 <= 100 ms at concurrency 1", "e2e_c1_overhead_p99_ms", "<=", 100),
    Target(
        "100 concurrent identical lookups -> exactly 1 upstream request",
        "coalesced_upstream_requests",
        "==",
        1,
    ),
    Target("cached e2e overhead p50 <= 10 ms", "cached_e2e_p50_ms", "<=", 10),
    Target("5,000 users: first page ready <= 100 ms", "large_5k_first_page_ms", "<=", 100),
    Target("5,000 users: bot RSS growth <= 50 MB", "large_5k_rss_growth_mb", "<=", 50),
    Target("50,000 users: first page ready <= 1 s (ms)", "large_50k_first_page_ms", "<=", 1000),
    Target("search in 50,000 users: answer ready <= 50 ms", "search_50k_first_ms", "<=", 50),
    Target(
        "CSV export of 50,000 users built and uploaded <= 2 s (ms)",
        "export_50k_total_ms",
        "<=",
        2000,
    ),
    Target(
        "CSV export of 50,000 users: RSS growth <= 100 MB", "export_50k_rss_growth_mb", "<=", 100
    ),
    Target(
        "search + export within the TTL -> 1 upstream request",
        "search_export_upstream_requests",
        "==",
        1,
    ),
    Target(
        "poll of 50,000 users: longest event-loop stall < 500 ms (ms, 2nd check)",
        "huge_poll_second_stall_ms",
        "<",
        500,
    ),
    Target("start-up <= 1.5 x the floor's (bot/floor)", "startup_ratio", "<=", 1.5),
    Target(
        "license user's e-mail: bot adds <= 15 ms p50 over its 2 extra requests",
        "mgmt_reverse_added_overhead_p50_ms",
        "<=",
        15,
    ),
    Target("seats add <= 5 ms to the summary's p50", "mgmt_seats_added_p50_ms", "<=", 5),
    Target(
        "Management API hung: summary within latency + 1.5 s (+ 100 ms)",
        "mgmt_hung_summary_max_ms",
        "<=",
        1_750,
    ),
    Target(
        "Management API hung: reverse lookup within the 3 s deadline",
        "mgmt_hung_reverse_max_ms",
        "<=",
        3_000,
    ),
    Target("alert poll cycle <= 1.15 x ideal", "alerts_cycle_ratio", "<=", 1.15),
    Target("alert polling: zero 429s", "alerts_429s", "<=", 0),
    Target("webhook -> alert posted p50 <= 2 s", "hooks_alert_p50_s", "<=", 2),
    Target("webhook -> alert posted p99 <= 5 s", "hooks_alert_p99_s", "<=", 5),
    Target("webhooks: 0 alerts lost", "hooks_lost", "<=", 0),
    Target("webhooks: 0 duplicate alerts", "hooks_duplicates", "<=", 0),
    Target("3 processes: total rate <= the limit (share)", "rate_share_of_limit", "<=", 1.0),
    Target("3 processes: total rate >= 95% of the limit", "rate_share_of_limit", ">=", 0.95),
    Target("3 processes: zero 429s", "rate_429s", "<=", 0),
    Target("mixed load: bot CPU <= 0.5 x the baseline's (same run)", "cpu_ratio", "<=", 0.5),
    Target(
        "5,000 users: parse + summary + first page <= 25 ms CPU",
        "large_5k_first_page_cpu_ms",
        "<=",
        25,
    ),
    Target(
        "50,000 users: parse + summary + first page <= 250 ms CPU",
        "large_50k_first_page_cpu_ms",
        "<=",
        250,
    ),
    Target(
        "50,000 users parsed -> first search answered <= 50 ms CPU",
        "search_50k_cold_cpu_ms",
        "<=",
        50,
    ),
    Target("e2e overhead p50 <= 6 ms at concurrency 1", "e2e_c1_overhead_p50_ms", "<=", 6),
    Target("cached e2e p50 <= 4 ms", "cached_e2e_p50_ms", "<=", 4),
    Target("idle RSS <= 1.5 x the floor's (bot/floor)", "idle_rss_ratio", "<=", 1.5),
    Target("webhook -> alert p50 <= 1.2 x the ideal", "hooks_alert_p50_ratio", "<=", 1.2),
    Target("webhook -> alert p99 <= 1.2 x the ideal", "hooks_alert_p99_ratio", "<=", 1.2),
)


def all_figures(results: Sequence[ScenarioResult]) -> Figures:
    merged: Figures = {}
    for result in results:
        merged.update(result.figures)
    return merged


# --- table -----------------------------------------------------------------------------


def fmt(name: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    if "ratio" in name:
        return f"{value:.2f}"
    if value == int(value) and abs(value) < 1e6 and not name.endswith(("_ms", "_mb")):
        return f"{value:.0f}"
    return f"{value:.1f}"


def machine() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }


def _title(scenario: Scenario, figures: Figures) -> str:
    try:
        return scenario.title.format(**figures)
    except (KeyError, ValueError, IndexError):
        return scenario.title.split(" (")[0]


def _grid(table: Table, figures: Figures) -> list[str]:
    label_width = max([len(label) for label, _ in table.rows] + [10])
    widths = [max(len(column), 9) for column in table.columns]
    lines = []
    if table.rows:
        header = " " * (label_width + 2) + "  ".join(
            column.rjust(width) for column, width in zip(table.columns, widths, strict=True)
        )
        lines.append(header.rstrip())
    for label, cells in table.rows:
        values = [fmt(name, figures.get(name)) if name is not None else "" for name in cells]
        row = (
            "  "
            + label.ljust(label_width)
            + "  ".join(value.rjust(width) for value, width in zip(values, widths, strict=True))
        )
        lines.append(row.rstrip())
    for label, name in table.singles:
        lines.append(f"  {label}: {fmt(name, figures.get(name))}")
    return lines


def render(results: Sequence[ScenarioResult], meta: dict[str, Any]) -> str:
    info = meta["machine"]
    lines = [
        "license-users-bot bench"
        + (" (--quick)" if meta["quick"] else "")
        + f": {meta['repeat']} run(s) per scenario, medians (maxima and counts: worst run)",
        f"machine: {info['cores']} cores ({info['usable_cores']} usable), "
        f"Python {info['python']}, {info['platform']}",
        f"total {meta['seconds']:.0f} s",
        "",
    ]
    for result in results:
        figures = result.figures
        if result.status == OK:
            lines.append(f"{_title(result.scenario, figures)}  [{result.seconds:.0f} s]")
            lines += _grid(result.scenario.table, figures)
        elif result.status == NOT_AVAILABLE:
            lines.append(f"{result.scenario.title}: {result.scenario.unavailable}")
        else:
            lines.append(f"{_title(result.scenario, figures)}: {result.status}")
        lines.append("")
    figures = all_figures(results)
    lines.append("Targets")
    for target in TARGETS:
        value = fmt(target.figure, figures.get(target.figure))
        lines.append(f"  {target.verdict(figures):<4}  {target.label:<64} {value:>8}")
    return "\n".join(lines)


# --- JSON ------------------------------------------------------------------------------


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_figures(figures: Figures) -> dict[str, float | None]:
    return {name: _json_number(value) for name, value in figures.items()}


def to_json(results: Sequence[ScenarioResult], meta: dict[str, Any]) -> dict[str, Any]:
    figures = all_figures(results)
    scenarios: dict[str, Any] = {}
    for result in results:
        scenario = result.scenario
        entry: dict[str, Any] = {
            "title": _title(scenario, result.figures),
            "status": result.status,
            "seconds": round(result.seconds, 2),
            "expected_figures": list(scenario.figures),
            "figures": _json_figures(result.figures),
            "runs": [_json_figures(run) for run in result.runs],
        }
        if result.status == NOT_AVAILABLE:
            entry["reason"] = scenario.unavailable
        scenarios[scenario.name] = entry
    return {
        "meta": meta,
        "scenarios": scenarios,
        "targets": [
            {
                "label": target.label,
                "figure": target.figure,
                "op": target.op,
                "limit": target.limit,
                "value": _json_number(figures.get(target.figure, math.nan)),
                "result": target.verdict(figures),
            }
            for target in TARGETS
        ],
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
