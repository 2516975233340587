"""The task suite itself: enough tasks, every situation covered, valid solutions and checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.browser.grammar import ref_lines
from agent.errors import ConfigError
from evals.checks import check_answer, normalise
from evals.reference import ConversationView, ReferencePolicy, resolve_target
from evals.sites import SITES_DIR
from evals.tasks import AnswerCheck, Target, Task, load_task, load_tasks

SITUATIONS = {
    "login", "form", "search", "pagination", "tabs", "modal", "cookie-banner", "dropdown",
    "checkbox", "radio", "date-input", "number-input", "disabled-button", "duplicate-names",
    "iframe", "shadow-dom", "late-content", "infinite-scroll", "long-page", "multi-page",
    "extraction",
}  # fmt: skip


def test_suite_has_at_least_30_tasks_covering_every_situation(all_tasks: list[Task]) -> None:
    assert len(all_tasks) >= 30
    tags = {tag for task in all_tasks for tag in task.tags}
    assert SITUATIONS <= tags, f"no task covers {sorted(SITUATIONS - tags)}"


def test_every_task_starts_on_a_page_that_exists(all_tasks: list[Task]) -> None:
    for task in all_tasks:
        path = SITES_DIR / task.start.split("?")[0]
        assert path.is_file(), f"{task.id}: {path} is missing"
        assert task.check.page or task.check.answer, f"{task.id} checks nothing"


def test_filtering_by_id_and_tag() -> None:
    assert [t.id for t in load_tasks(pattern="login-basic")] == ["login-basic"]
    assert all("iframe" in t.tags for t in load_tasks(pattern="iframe"))
    with pytest.raises(ConfigError, match="No task id or tag matches"):
        load_tasks(pattern="no-such-task")


def test_a_bad_task_file_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "prompt: x\nstart: suite/login.html\ncheck: {page: 'true'}\n"
        "solution:\n  - clack: {button: Go}\n  - done: ok\n"
    )
    with pytest.raises(ConfigError, match="no tool 'clack'"):
        load_task(path)
    path.write_text("prompt: x\nstart: suite/login.html\ncheck: {page: 'true'}\nsolution: []\n")
    with pytest.raises(ConfigError, match="no reference solution"):
        load_task(path)


def test_answers_are_compared_after_normalisation() -> None:
    assert normalise("  Reykjavík\u2019s  PORT ") == "reykjavik's port"
    assert check_answer("It is 545,923 people.", AnswerCheck(number=545923)).passed
    assert check_answer("€1.47M", AnswerCheck(contains=["1.47"])).passed
    outcome = check_answer("about 14 weeks", AnswerCheck(contains=["14 days"]))
    assert not outcome.passed and "lacks '14 days'" in outcome.detail
    assert check_answer("Order NW-7617 placed", AnswerCheck(regex=r"NW-\d{4}")).passed


SNAPSHOT = """# Mugs
@e1 region "Red mug"
  ## Red mug
  @e2 button "Add to cart"
@e3 region "Blue mug"
  @e4 button "Add to cart"
  @e5 textbox "Say \\"hi\\"" = "x"
"""


def test_targets_resolve_by_role_name_position_and_container() -> None:
    assert [line.ref for line in ref_lines(SNAPSHOT)] == [
        "@e1", "@e2", "@e3", "@e4", "@e5",
    ]  # fmt: skip
    assert resolve_target([SNAPSHOT], Target("button", "Add to cart")) == "@e2"
    assert resolve_target([SNAPSHOT], Target("button", "Add to cart", nth=2)) == "@e4"
    inside = Target("button", "Add to cart", within=Target("region", "Blue mug"))
    assert resolve_target([SNAPSHOT], inside) == "@e4"
    assert resolve_target([SNAPSHOT], Target("textbox", 'Say "hi"')) == "@e5"
    assert resolve_target([SNAPSHOT], Target("link", "Add to cart")) is None


def test_the_policy_answers_done_with_a_reason_when_an_element_is_missing(
    policy: ReferencePolicy, all_tasks: list[Task]
) -> None:
    task = next(t for t in all_tasks if t.id == "login-basic")
    view = ConversationView(f"# Task\n{task.prompt}", 0, ('# Snapshot\n@e1 button "Other"',))
    (call,) = policy.decide(view)
    assert call.name == "done"
    assert 'no textbox "Username"' in call.arguments["answer"]
    assert policy.task_for("an unknown prompt") is None
