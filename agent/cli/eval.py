"""``agent eval``: run the eval suite offline from cassettes, record them, compare runs.

Without options it replays the shipped reference cassettes for every task in the wire format of
each recordable provider (OpenAI and Anthropic; ``agent.models.providers``): no key, no network.
That is a plumbing check of the whole path (loop, tools, SDKs, wire mapping), not a model score,
and the report says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError
from agent.models.providers import recordable_providers

if TYPE_CHECKING:
    from evals.backends import EvalBackend
    from evals.results import EvalRun, TaskResult

__all__ = ["register", "run"]

_DESCRIPTION = """\
Run the eval tasks (evals/tasks/*.yaml) on their local sites and score them.

  agent eval                      replay the reference cassettes, OpenAI and Anthropic formats
                                  (plumbing check, no key or network needed)
  agent eval --solutions          run every task's reference solution through the real tools
  agent eval --record             re-record the reference cassettes (offline, local endpoint)
  agent eval --model openai:gpt-4.1-mini --record
                                  run a real model and record its cassettes (needs its key)
  agent eval --model openai:gpt-4.1-mini
                                  replay that model's cassettes, or run it live with a key
  agent eval --miniwob            run the MiniWoB++ subset with its reference solvers
  agent eval --compare old.json new.json
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="run the eval suite (replays recorded cassettes by default)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=_handle)


def run(argv: Sequence[str]) -> int:
    """``agent eval ARGV`` in this process, as ``agent demo`` ends. Errors reach the caller's
    handler, which reports them as for any command (exit 1)."""
    parser = argparse.ArgumentParser(prog="agent eval")
    _add_arguments(parser)
    return _handle(parser.parse_args(argv))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--solutions", action="store_true", help="run the reference solutions")
    mode.add_argument("--miniwob", action="store_true", help="run the MiniWoB++ subset")
    mode.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"), help="compare runs")
    mode.add_argument(
        "--cache",
        action="store_true",
        help="run each task twice with the prompt cache: fill, then replay (see docs/evals.md)",
    )
    pages = parser.add_mutually_exclusive_group()
    pages.add_argument(
        "--perturbed", action="store_true", help="with --cache: replay on restyled pages"
    )
    pages.add_argument(
        "--renamed",
        action="store_true",
        help="with --cache: replay on pages whose target labels are renamed (healing needed)",
    )
    parser.add_argument(
        "--provider",
        choices=(*_recordable(), "both"),
        default="both",
        help="wire format(s) of the reference cassettes (default both)",
    )
    parser.add_argument("--model", help="a real model id, e.g. openai:gpt-4.1-mini")
    parser.add_argument(
        "--record", action="store_true", help="record cassettes instead of replaying"
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=2, help="tasks at a time, one browser each"
    )
    parser.add_argument(
        "--report", type=Path, default=Path("artifacts/eval"), help="report folder (artifacts/eval)"
    )
    parser.add_argument("--tasks", help="task ids or tags to run: globs, comma-separated")
    parser.add_argument("--cassettes", type=Path, help="cassette folder (evals/cassettes)")
    parser.add_argument("--seeds", type=int, default=3, help="MiniWoB++ seeds per task (default 3)")
    parser.add_argument(
        "--reuse-browsers",
        action="store_true",
        help="one warm browser per job and a fresh context per task, instead of a new browser",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _handle(args: argparse.Namespace) -> int:
    # A ConfigError (no cassettes, no key, an unreadable results file) goes to the command
    # line's shared handler: printed as "agent eval: ...", exit 1 like every failed command.
    if args.compare:
        return _compare(args.compare[0], args.compare[1])
    if args.miniwob:
        return asyncio.run(_miniwob(args))
    if args.cache:
        from evals.cache_eval import Pages
        from evals.cache_eval import main as cache_main

        pages: Pages = "renamed" if args.renamed else "perturbed" if args.perturbed else "same"
        return asyncio.run(cache_main(pattern=args.tasks, pages=pages))
    return asyncio.run(_suite(args))


def _compare(old: Path, new: Path) -> int:
    from evals.compare import compare_runs
    from evals.results import EvalRun

    runs = []
    for path in (old, new):
        try:
            runs.append(EvalRun.load(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read eval results {path}: {exc}") from exc
    print(compare_runs(runs[0], runs[1]).render())
    return 0


def _recordable() -> list[str]:
    """The providers whose cassettes the evals record and replay (the table's hosted ones)."""
    return [spec.prefix for spec in recordable_providers()]


def _providers(args: argparse.Namespace) -> list[str]:
    return _recordable() if args.provider == "both" else [args.provider]


def _backends(args: argparse.Namespace, policy: Any, server: Any) -> list[EvalBackend]:
    from evals.backends import EvalBackend, recordable_spec, reference_model_id
    from evals.cassettes import CASSETTES_DIR, model_slug
    from evals.results import RunMode

    cassettes = args.cassettes or CASSETTES_DIR
    if args.solutions:
        return [EvalBackend("scripted:reference-policy", "solutions", cassettes, policy=policy)]
    if not args.model:
        mode: RunMode = "record" if args.record else "replay"
        # Recording: the SDKs talk to the local reference endpoint.
        return [
            EvalBackend(
                reference_model_id(p),
                mode,
                cassettes,
                policy=policy,
                base_url=server.base_url(p) if server is not None else None,
            )
            for p in _providers(args)
        ]
    key_env = recordable_spec(args.model, f"--model {args.model!r}").key_env or ""
    key = os.environ.get(key_env)
    if args.record:
        if not key:
            raise ConfigError(f"Recording {args.model} needs a key: set {key_env}.")
        return [EvalBackend(args.model, "record", cassettes, api_key=key)]
    if (cassettes / model_slug(args.model)).is_dir():
        return [EvalBackend(args.model, "replay", cassettes)]
    if key:
        return [EvalBackend(args.model, "live", cassettes, api_key=key)]
    raise ConfigError(
        f"There are no cassettes for {args.model} in {cassettes} and {key_env} is not "
        f"set. Record them with: agent eval --model {args.model} --record (needs the key)."
    )


async def _suite(args: argparse.Namespace) -> int:
    from evals.provider_server import ReferenceProviderServer
    from evals.reference import ReferencePolicy
    from evals.runner import run_suite
    from evals.tasks import load_tasks

    tasks = load_tasks(pattern=args.tasks)
    # The policy knows every task, so a filtered run still recognises any prompt.
    policy = ReferencePolicy(load_tasks())
    with ExitStack() as stack:
        server = None
        if args.record and not args.model and not args.solutions:
            server = stack.enter_context(ReferenceProviderServer(policy))
        backends = _backends(args, policy, server)
        with _Progress(len(tasks) * len(backends), enabled=not args.no_progress) as progress:
            run = await run_suite(
                tasks,
                backends,
                jobs=args.jobs,
                report_dir=args.report,
                on_result=progress.done,
                reuse_browsers=args.reuse_browsers,
            )
    return _finish(run, args.report)


async def _miniwob(args: argparse.Namespace) -> int:
    from evals.miniwob import run_miniwob

    with _Progress(0, enabled=not args.no_progress) as progress:
        run = await run_miniwob(
            pattern=args.tasks,
            seeds=range(args.seeds),
            jobs=args.jobs,
            on_result=progress.done,
            on_total=progress.set_total,
        )
    code = _finish(run, args.report)
    _print_miniwob(run)
    return code


def _print_miniwob(run: EvalRun) -> None:
    from rich.console import Console
    from rich.table import Table

    from evals.miniwob_solvers import EXCLUDED

    per_task: dict[str, list[TaskResult]] = {}
    for result in run.results:
        per_task.setdefault(str(result.extra.get("task")), []).append(result)
    table = Table(title="MiniWoB++ solvability (reference solvers, our tools only)")
    for column in ("task", "seeds solved", "needs beyond a plain aria snapshot"):
        table.add_column(column)
    for task, results in per_task.items():
        solved = sum(r.success for r in results)
        needs = sorted({n for r in results for n in r.extra.get("needs", [])})
        mark = "green" if solved == len(results) else "red"
        table.add_row(task, f"[{mark}]{solved}/{len(results)}[/{mark}]", ", ".join(needs))
    console = Console()
    console.print(table)
    solvable = sum(all(r.success for r in results) for results in per_task.values())
    console.print(f"{solvable}/{len(per_task)} tasks solved on every seed.")
    console.print("Left out of the subset:")
    for task, reason in EXCLUDED.items():
        console.print(f"  {task}: {reason}")


def _finish(run: EvalRun, report_dir: Path) -> int:
    from evals.report import write_report

    results, page = write_report(run, report_dir)
    _print_summary(run)
    print(f"\nreport: {page}\nresults: {results}")
    mismatches = [r for r in run.results if r.stop_reason == "cassette_mismatch"]
    for result in mismatches[:3]:
        print(f"\n{result.task_id}: {result.error}", file=sys.stderr)
    if len(mismatches) > 3:
        print(f"... and {len(mismatches) - 3} more cassette mismatches", file=sys.stderr)
    return 0 if run.passed else 1


def _print_summary(run: EvalRun) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    names = [config.name for config in run.configs]
    by_key = {(r.task_id, r.config): r for r in run.results}
    table = Table(title="Eval results", show_lines=False)
    table.add_column("task")
    for name in names:
        table.add_column(name)
    for task_id in dict.fromkeys(r.task_id for r in run.results):
        row = [task_id]
        for name in names:
            result = by_key.get((task_id, name))
            row.append(_cell(result) if result else "")
        table.add_row(*row)
    console.print(table)
    totals = Table(title="Totals")
    for column in (
        "configuration",
        "passed",
        "steps",
        "tokens in/out",
        "snapshot tok/step",
        "elapsed",
        "task time (sum)",
    ):
        totals.add_column(column)
    for s in run.summaries():
        totals.add_row(
            s.config,
            f"{s.passed}/{s.tasks} ({s.success_rate:.0%})",
            f"{s.steps} ({s.mean_steps:.1f}/task)",
            f"{s.input_tokens:,} / {s.output_tokens:,}",
            f"{s.mean_snapshot_tokens:.0f}",
            f"{s.elapsed_s:.0f} s",
            f"{s.wall_s:.0f} s",
        )
    console.print(totals)
    for config in run.configs:
        console.print(f"[bold]{config.name}[/bold]: {config.label}")
        for provenance in config.provenance:
            console.print(f"  cassettes: {provenance}")


def _cell(result: TaskResult) -> str:
    mark = "[green]pass[/green]" if result.success else "[red]FAIL[/red]"
    return (
        f"{mark} {len(result.steps)} st, {result.input_tokens + result.output_tokens:,} tok, "
        f"{result.wall_s:.1f}s, {result.stop_reason}"
    )


class _Progress:
    """A rich progress bar on stderr, advanced as each task finishes."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.bar = self.progress.add_task("eval", total=total or None)

    def set_total(self, total: int) -> None:
        self.progress.update(self.bar, total=total)

    def done(self, result: TaskResult) -> None:
        mark = "pass" if result.success else "FAIL"
        self.progress.update(self.bar, advance=1, description=f"{mark} {result.task_id}")

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()
