"""The HTML report opens in headless Chromium and shows each step; runs can be compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.browser.session import BrowserSession
from agent.cli import main
from evals.backends import EvalBackend, reference_model_id
from evals.cassettes import CASSETTES_DIR
from evals.compare import compare_runs
from evals.report import write_report
from evals.results import EvalRun
from evals.runner import run_suite
from evals.tasks import Task

REPORT_TASKS = {"login-basic", "select-shipping"}


@pytest.fixture(scope="module")
async def small_run(all_tasks: list[Task], artifacts: Path) -> EvalRun:
    """Two tasks replayed in both formats, one new browser per task, with screenshots."""
    backends = [
        EvalBackend(reference_model_id(provider), "replay", CASSETTES_DIR)
        for provider in ("openai", "anthropic")
    ]
    chosen = [task for task in all_tasks if task.id in REPORT_TASKS]
    return await run_suite(chosen, backends, jobs=2, report_dir=artifacts / "eval-report")


async def test_report_shows_prompt_steps_screenshots_answer_and_check(
    small_run: EvalRun, artifacts: Path
) -> None:
    report_dir = artifacts / "eval-report"
    run = small_run
    assert run.passed
    results, page = write_report(run, report_dir)
    assert EvalRun.load(results).results[0].task_id == run.results[0].task_id
    html = page.read_text()
    assert "Plumbing check, not a model score" in html
    assert "Sign in to the Northwind Portal" in html  # the prompt
    assert "Final answer:" in html and "the page check held" in html

    async with await BrowserSession.start() as session:
        await session.goto(page.as_uri())
        details = session.page.locator("#task-login-basic")
        await details.evaluate("element => { element.open = true; }")
        await details.scroll_into_view_if_needed()
        await session.page.wait_for_function(
            "[...document.querySelectorAll('#task-login-basic img')]"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )
        rows = await details.locator("table tr").count()
        assert rows >= 1 + 2 * 2  # a header and two steps per wire format
        calls = await details.locator("pre").all_inner_texts()
        assert any(call.startswith("fill(") for call in calls)
        assert any(call.startswith("done(") for call in calls)
        shot = artifacts / "eval-report.png"
        await details.screenshot(path=str(shot))
        await session.page.evaluate("window.scrollTo(0, 0)")
        await session.page.screenshot(path=str(artifacts / "eval-report-top.png"))
    assert shot.stat().st_size > 10_000


def _result_json(run: EvalRun, path: Path, flip: str | None = None) -> Path:
    copy = run.model_copy(deep=True)
    for result in copy.results:
        if result.task_id == flip:
            result.success = False
    copy.save(path)
    return path


async def test_compare_reports_regressions_and_fixes(
    small_run: EvalRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = small_run
    old = _result_json(run, tmp_path / "old.json")
    new = _result_json(run, tmp_path / "new.json", flip="select-shipping")
    comparison = compare_runs(EvalRun.load(old), EvalRun.load(new))
    assert [c.key for c in comparison.regressions] == [
        "anthropic/select-shipping", "openai/select-shipping",
    ]  # fmt: skip
    assert comparison.old_passed == 4 and comparison.new_passed == 2
    assert main(["eval", "--compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "passed: 4/4 -> 2/4" in out


def test_elapsed_time_is_the_runs_own_not_the_sum_of_its_tasks(small_run: EvalRun) -> None:
    """With two tasks at a time (``-j 2``) a configuration's two tasks overlap: its elapsed time
    is from the first start to the last end, and the tasks' own times add up to more."""
    for summary in small_run.summaries():
        walls = [r.wall_s for r in small_run.for_config(summary.config)]
        assert all(r.started_s is not None for r in small_run.for_config(summary.config))
        assert summary.wall_s == pytest.approx(sum(walls))
        assert max(walls) <= summary.elapsed_s < summary.wall_s, summary
