"""`python -m bench [--quick] [--repeat N] [--only SCENARIO,...] [--out PATH]`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import BASELINE_COMMIT, Plan, open_bench
from bench.report import NOT_AVAILABLE, OK, ScenarioResult, machine, render, to_json, write_json
from bench.scenarios import SCENARIO_NAMES, SCENARIOS, Scenario
from bot.logs import configure_logging

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
EXIT_SCENARIO_FAILED = 1


def _scenario_list(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIO_NAMES]
    if unknown or not names:
        choices = ", ".join(SCENARIO_NAMES)
        given = ", ".join(unknown) or repr(value)
        raise argparse.ArgumentTypeError(f"unknown scenario {given}; choose from {choices}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the bot against an ack-only floor app and the sandbox, on loopback.",
    )
    parser.add_argument("--quick", action="store_true", help="run every scenario briefly")
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per scenario (default 3, --quick 1)"
    )
    parser.add_argument(
        "--only",
        type=_scenario_list,
        default=None,
        metavar="SCENARIO[,...]",
        help=f"run only these: {', '.join(SCENARIO_NAMES)}",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="COMMIT",
        help=f"commit the cpu scenario measures beside HEAD (default {BASELINE_COMMIT})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    return parser


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run_scenario(bench: Any, scenario: Scenario, repeat: int) -> ScenarioResult:
    if scenario.run is None:
        progress(f"{scenario.name}: {scenario.unavailable}")
        return ScenarioResult(scenario, NOT_AVAILABLE)
    result = ScenarioResult(scenario, OK)
    started = time.monotonic()
    for index in range(repeat):
        progress(f"{scenario.name}: run {index + 1}/{repeat}")
        try:
            result.runs.append(await scenario.run(bench))
        except Exception as exc:  # noqa: BLE001 - report it, run the other scenarios
            traceback.print_exc()
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"
            result.status = f"error: {type(exc).__name__}: {detail}"
            break
    result.seconds = time.monotonic() - started
    return result


async def run(plan: Plan, selected: Sequence[Scenario]) -> list[ScenarioResult]:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM: unwind like Ctrl-C, so every child is stopped
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    progress("starting the sandbox and the response_url receiver")
    async with open_bench(plan) as bench:
        return [await run_scenario(bench, scenario, plan.repeat) for scenario in selected]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["soak"]:
        from bench.soak import main as soak_main

        configure_logging(level="WARNING")
        return soak_main(argv[1:])
    args = build_parser().parse_args(argv)
    # In-process scenarios (alert polling) use the bot's code: keep its logs out of the table.
    configure_logging(level="WARNING")
    if args.repeat is not None and args.repeat < 1:
        build_parser().error("--repeat must be at least 1")
    repeat = args.repeat or (1 if args.quick else 3)
    plan = Plan.brief(repeat) if args.quick else Plan.full(repeat)
    if args.baseline:
        plan = replace(plan, cpu_baseline=args.baseline)
    selected = [s for s in SCENARIOS if args.only is None or s.name in args.only]
    started = time.monotonic()
    began = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        results = asyncio.run(run(plan, selected))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted", file=sys.stderr)
        return 130
    meta = {
        "started": began,
        "seconds": round(time.monotonic() - started, 1),
        "quick": plan.quick,
        "repeat": plan.repeat,
        "machine": machine(),
        "plan": {name: value for name, value in vars(plan).items() if name != "repeat"},
    }
    print(render(results, meta), flush=True)
    write_json(args.out, to_json(results, meta))
    print(f"\nresults written to {args.out}")
    failed = [r for r in results if r.status not in (OK, NOT_AVAILABLE)]
    return EXIT_SCENARIO_FAILED if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
