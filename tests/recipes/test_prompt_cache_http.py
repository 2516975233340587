"""The prompt cache over HTTP, with the real server, real Chromium on the checkout site, and the
scripted model counting its calls (issue 25's "Done when")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from agent.browser import grammar
from agent.messages import Message, UserMessage
from agent.models import tool_call
from tests.harness import RunningServer, latest_observation
from tests.recipes.calls import model_calls, ref_in_latest

PROMPT = "Enter ada@example.com as the email and press Continue."


pytestmark = pytest.mark.usefixtures("empty_cache")


def _fill_and_click(button: str) -> Any:
    def turn(messages: Sequence[Message]) -> Any:
        return [
            tool_call(
                "fill", ref=ref_in_latest(messages, "textbox", "Email"), value="ada@example.com"
            ),
            tool_call("click", ref=ref_in_latest(messages, "button", button)),
        ]

    return turn


def _click(button: str) -> Any:
    return lambda messages: [tool_call("click", ref=ref_in_latest(messages, "button", button))]


def _done(answer: str) -> Any:
    return [tool_call("done", answer=answer)]


def _session(server: RunningServer, site: str, variant: str = "plain") -> str:
    return server.scrape_id(f"{site}/checkout?v={variant}", formats=["links"])


def _interact(server: RunningServer, scrape_id: str, prompt: str, **body: Any) -> dict[str, Any]:
    response = server.interact(scrape_id, prompt=prompt, **body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _acted(server: RunningServer, scrape_id: str) -> list[str]:
    return list(server.evaluate(scrape_id, "window.acted"))


def _record(server: RunningServer, site: str) -> dict[str, Any]:
    """The first run on the plain page: the model fills and clicks, the recipe is stored."""
    server.turns.add(_fill_and_click("Continue"), _done("Sent."))
    first = _session(server, site)
    try:
        body = _interact(server, first, PROMPT, cache=True)
        assert _acted(server, first) == ["continue:ada@example.com"]
    finally:
        server.stop_session(first)
    assert body["cache"] == {"status": "miss", "modelCalls": 2, "steps": 2}
    return body


def test_repeated_action_prompt_makes_no_model_call(server: RunningServer, site: str) -> None:
    first = _record(server, site)
    assert (
        "agent-browser find role textbox fill ada@example.com --name Email --exact"
        in (first["script"])
    )
    assert "agent-browser find role button click --name Continue --exact" in first["script"]
    calls = model_calls(server)
    again = _session(server, site)
    body = _interact(server, again, PROMPT, cache=True)
    assert body["cache"] == {"status": "hit", "modelCalls": 0, "steps": 2}
    assert body["success"] is True and body["output"] == "Sent."
    assert _acted(server, again) == ["continue:ada@example.com"]
    assert model_calls(server) == calls
    # The same words, other case and spacing, on the same path (another query): still a hit.
    server.stop_session(again)
    third = _session(server, site, "plain&utm=x")
    body = _interact(server, third, "  enter ADA@example.com as the email   and press Continue.")
    assert body["cache"]["status"] == "off"  # not asked for: the planner runs as always
    server.stop_session(third)


def test_restyled_page_with_the_same_names_needs_no_model(server: RunningServer, site: str) -> None:
    _record(server, site)
    calls = model_calls(server)
    restyled = _session(server, site, "restyled")
    body = _interact(server, restyled, PROMPT, cache=True)
    assert body["cache"]["status"] == "hit" and body["cache"]["modelCalls"] == 0
    assert _acted(server, restyled) == ["continue:ada@example.com"]  # not "help"
    assert model_calls(server) == calls
    server.stop_session(restyled)


def test_renamed_label_asks_the_model_once_then_replays(server: RunningServer, site: str) -> None:
    _record(server, site)
    seen: list[str] = []

    def heal(messages: Sequence[Message]) -> Any:
        seen.extend(m.content for m in messages if isinstance(m, UserMessage))
        return [tool_call("click", ref=ref_in_latest(messages, "button", "Next"))]

    server.turns.add(heal, _done("Sent."))
    renamed = _session(server, site, "renamed")
    body = _interact(server, renamed, PROMPT, cache=True)
    assert body["cache"]["status"] == "healed" and body["cache"]["modelCalls"] == 2
    assert body["cache"]["stoppedAt"] == 2
    assert 'no element button "Continue"' in body["cache"]["reason"]
    assert any("stopped at its step 2" in text for text in seen)  # one conversation, told
    assert _acted(server, renamed) == ["continue:ada@example.com"]  # filled once, by the replay
    assert "--name Next --exact" in body["script"]
    server.stop_session(renamed)

    calls = model_calls(server)
    again = _session(server, site, "renamed")
    body = _interact(server, again, PROMPT, cache=True)
    assert body["cache"] == {"status": "hit", "modelCalls": 0, "steps": 2}
    assert _acted(server, again) == ["continue:ada@example.com"]
    assert model_calls(server) == calls
    server.stop_session(again)


def test_target_gone_acts_on_nothing_else(server: RunningServer, site: str) -> None:
    _record(server, site)
    server.turns.add(_done("There is no Continue button on the page, so nothing was sent."))
    gone = _session(server, site, "gone")
    body = _interact(server, gone, PROMPT, cache=True)
    assert _acted(server, gone) == []  # the Cancel button was not clicked in its place
    assert body["cache"]["status"] == "miss" and body["cache"]["stoppedAt"] == 2
    assert 'no element button "Continue" on the page' in body["cache"]["reason"]
    assert "no Continue button" in body["output"]
    server.stop_session(gone)


def test_equal_buttons_are_told_apart_by_their_region(server: RunningServer, site: str) -> None:
    def add_pro(messages: Sequence[Message]) -> Any:
        text = latest_observation(messages)
        pro = text[text.index('"Pro"') :]  # the Pro section's own Add to cart
        found = grammar.find_ref(pro, "button", "Add to cart")
        return [tool_call("click", ref=found)]

    server.turns.add(add_pro, _done("Added."))
    first = _session(server, site)
    body = _interact(server, first, "Add the Pro plan to the cart.", cache=True)
    assert _acted(server, first) == ["add:pro"]
    assert "--within region --within-name Pro" in body["script"]
    server.stop_session(first)
    restyled = _session(server, site, "restyled")  # Pro now comes first
    body = _interact(server, restyled, "Add the Pro plan to the cart.", cache=True)
    assert body["cache"]["status"] == "hit"
    assert _acted(server, restyled) == ["add:pro"]
    server.stop_session(restyled)


def test_cache_is_off_unless_asked_for(server: RunningServer, site: str) -> None:
    scrape_id = _session(server, site)
    for _ in range(2):
        server.turns.add(_fill_and_click("Continue"), _done("Sent."))
        calls = model_calls(server)
        body = _interact(server, scrape_id, PROMPT)
        assert body["cache"] == {"status": "off", "modelCalls": 2, "steps": 2}
        assert model_calls(server) == calls + 2
        assert body["script"].startswith("#!/bin/sh")
    server.stop_session(scrape_id)
    assert server.run(server.app.state.server.recipes.entries()) == []


def test_a_failed_run_yields_no_recipe(server: RunningServer, site: str) -> None:
    server.turns.add(*([tool_call("click", ref="@e999")],) * 6)
    scrape_id = _session(server, site)
    body = _interact(server, scrape_id, PROMPT, cache=True)
    assert body["success"] is False
    assert "script" not in body
    assert body["cache"]["status"] == "miss"
    assert server.run(server.app.state.server.recipes.entries()) == []
    server.stop_session(scrape_id)


def test_a_prompt_that_reads_reads_the_final_page_again(server: RunningServer, site: str) -> None:
    prompt = "Press Continue and tell me the total."

    def total(messages: Sequence[Message]) -> Any:
        found = re.search(r"Total: ([\d.]+) EUR", latest_observation(messages))
        assert found
        return _done(f"The total is {found.group(1)} EUR.")

    server.turns.add(_click("Continue"), total)
    first = _session(server, site)
    body = _interact(server, first, prompt, cache=True)
    assert body["output"] == "The total is 12.50 EUR." and body["cache"]["status"] == "miss"
    server.stop_session(first)

    seen: list[str] = []

    def read_again(messages: Sequence[Message]) -> Any:
        seen.extend(m.content for m in messages if isinstance(m, UserMessage))
        return total(messages)

    server.turns.add(read_again)
    restyled = _session(server, site, "restyled")
    body = _interact(server, restyled, prompt, cache=True)
    assert body["cache"] == {"status": "hit", "modelCalls": 1, "steps": 1}
    assert body["output"] == "The total is 14.00 EUR."  # read again, not the recorded answer
    assert any("every step of it worked" in text for text in seen)
    assert _acted(server, restyled) == ["continue:"]
    server.stop_session(restyled)
