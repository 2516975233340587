"""The ``script`` of an interact response runs unchanged as bash code on a fresh session and
redoes the actions: agent-browser's own ``find`` for targets it can name alone, this project's
``agent browser find --within/--nth`` for equals it cannot tell apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agent.browser import grammar
from agent.messages import Message
from agent.models import tool_call
from tests.harness import RunningServer, latest_observation, require_agent_browser

pytestmark = pytest.mark.usefixtures("empty_cache")


def _ref(messages: Sequence[Message], role: str, name: str, after: str = "") -> str:
    text = latest_observation(messages)
    found = grammar.find_ref(text[text.index(after) :] if after else text, role, name)
    assert found, f'no {role} "{name}" in the snapshot:\n{text}'
    return found


def _run_script(server: RunningServer, site: str, script: str) -> list[str]:
    fresh = server.scrape_id(f"{site}/checkout", formats=["links"])
    try:
        ran = server.run_code(fresh, script, "bash", timeout=60)
        assert ran["exitCode"] == 0, ran
        return list(server.evaluate(fresh, "window.acted"))
    finally:
        server.stop_session(fresh)


def test_script_redoes_the_actions_on_a_fresh_session(server: RunningServer, site: str) -> None:
    require_agent_browser()

    def act(messages: Sequence[Message]) -> Any:
        return [
            tool_call("click", ref=_ref(messages, "button", "Add to cart", after='"Pro"')),
            tool_call("fill", ref=_ref(messages, "textbox", "Email"), value="o'neil $(id)"),
            tool_call("click", ref=_ref(messages, "button", "Continue")),
        ]

    server.turns.add(act, [tool_call("done", answer="Done.")])
    first = server.scrape_id(f"{site}/checkout", formats=["links"])
    response = server.interact(first, prompt="Add Pro and send o'neil $(id) as the email.")
    server.stop_session(first)
    assert response.status_code == 200, response.text
    script = response.json()["script"]
    assert "agent browser find role button click --name 'Add to cart' --exact" in script
    assert "agent-browser find role textbox fill 'o'\"'\"'neil $(id)' --name Email" in script
    # The value is typed as given: quoted, never run by the shell.
    assert _run_script(server, site, script) == ["add:pro", "continue:o'neil $(id)"]
