"""Every prompt template renders with the variables the loop passes, and only with them."""

from __future__ import annotations

import jinja2
import pytest

from prompts import render, template_names

OBSERVATION = {
    "task": "Find the price",
    "step": 2,
    "max_steps": 5,
    "done_tool": "done",
    "url": "http://127.0.0.1:8000/b.html",
    "title": "B",
    "tabs": 2,
    "previous_url": "http://127.0.0.1:8000/a.html",
    "tab_opened": True,
    "refs_added": 3,
    "refs_removed": 1,
    "snapshot": '# B\n@e4 button "Buy"',
    "snapshot_error": None,
}

EXAMPLES: dict[str, dict[str, object]] = {
    "system": {
        "tools": ["click", "get_text", "snapshot"],
        "done_tool": "done",
        "max_steps": 20,
        "snapshot_tokens": 6000,
    },
    "observation": OBSERVATION,
    "elided_snapshot": {"step": 3, "url": "http://127.0.0.1:8000/", "tokens": 812},
    "tool_error": {"tool": "click", "error": "stale ref @e4: removed.", "kind": "tool"},
    "no_action": {"done_tool": "done"},
    "extract_system": {"task": "json", "has_schema": True},
    "extract_page": {"page": "# Kettle", "task": "json", "prompt": "The price", "schema": "{}"},
    "extract_retry": {"problems": ["at $.price: 'x' is not of type 'number'"], "has_schema": True},
    "demo_help": {"not_understood": ["book a flight"]},
    "handover": {
        "done": ['click button "Continue"'],
        "stopped_at": 2,
        "reason": 'no element button "Pay" on the page.',
        "done_tool": "done",
    },
}


def test_every_template_has_an_example() -> None:
    assert sorted(EXAMPLES) == template_names()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_template_renders(name: str) -> None:
    text = render(name, **EXAMPLES[name])
    assert text and text == text.strip()
    assert "{{" not in text and "{%" not in text
    assert render(name + ".j2", **EXAMPLES[name]) == text


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_missing_variable_fails_loudly(name: str) -> None:
    variables = dict(EXAMPLES[name])
    variables.pop(next(iter(variables)))
    with pytest.raises(jinja2.UndefinedError):
        render(name, **variables)


def test_unknown_template() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render("nope")


def test_system_prompt_explains_refs_and_done() -> None:
    text = render("system", **EXAMPLES["system"])
    for phrase in ("@e5", "stale ref", "clickable", "page=2", 'scope="@eN"', "call done"):
        assert phrase in text, phrase
    narrow = render("system", **{**EXAMPLES["system"], "tools": ["click"]})
    assert "page=2" not in narrow  # no advice about tools that are not offered


def test_observation_variants() -> None:
    text = render("observation", **OBSERVATION)
    assert text.startswith("# Task\nFind the price\n\n# Step 2 of 5")
    assert "changed from http://127.0.0.1:8000/a.html" in text
    assert "a new tab opened" in text
    assert "3 element(s) with refs appeared, 1 disappeared" in text
    assert text.endswith('# Snapshot\n# B\n@e4 button "Buy"')
    first = render(
        "observation",
        **{**OBSERVATION, "task": None, "step": 1, "previous_url": None, "tab_opened": False},
    )
    assert "Since your last step" not in first and "# Task" not in first
    last = render("observation", **{**OBSERVATION, "step": 5})
    assert "This is your last step: call done now" in last
    failed = render("observation", **{**OBSERVATION, "snapshot": "", "snapshot_error": "boom"})
    assert "could not be taken: boom" in failed
    empty = render("observation", **{**OBSERVATION, "snapshot": ""})
    assert "(The page is empty.)" in empty


@pytest.mark.parametrize(
    ("kind", "error", "advice"),
    [
        ("arguments", "not JSON", "as one JSON object"),
        ("unknown_tool", "no tool named 'x'", "Call only the tools"),
        ("tool", "stale ref @e4: removed", "use its new ref"),
        ("tool", "@e4 is covered", "do not repeat it unchanged"),
    ],
)
def test_tool_error_advice(kind: str, error: str, advice: str) -> None:
    text = render("tool_error", tool="click", error=error, kind=kind)
    assert text.startswith(f"Error from click: {error}")
    assert advice in text
