"""MiniWoB++ reference solvers on a few tasks (``agent eval --miniwob`` runs the whole subset)."""

from __future__ import annotations

import importlib.util

import pytest

from evals.miniwob import run_miniwob
from evals.miniwob_solvers import EXCLUDED, SOLVERS

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("miniwob") is None,
    reason="the MiniWoB++ pages are not installed: pip install --no-deps miniwob",
)

SAMPLE = (
    "click-link,enter-password,copy-paste,read-table-2,guess-number,use-autocomplete,"
    "click-tab-2-hard"
)


def test_the_subset_has_at_least_40_tasks_and_says_why_others_are_left_out() -> None:
    assert len(SOLVERS) >= 40
    assert not set(SOLVERS) & set(EXCLUDED)
    assert all(reason for reason in EXCLUDED.values())


async def test_reference_solvers_solve_their_tasks() -> None:
    run = await run_miniwob(pattern=SAMPLE, seeds=[0, 1], jobs=2)
    failed = [f"{r.task_id}: {r.check}; {r.error}" for r in run.results if not r.success]
    assert not failed, "\n".join(failed)
    needs = {r.extra["task"]: r.extra["needs"] for r in run.results}
    assert needs["click-link"] == ["clickable refs"]  # inline spans a plain aria tree folds away
    assert needs["click-tab-2-hard"] == ["clickable refs"]  # the same, inside a tabpanel
    assert needs["enter-password"] == ["unnamed fields"]
