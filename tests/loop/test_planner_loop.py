"""The planner loop against real Chromium and the local demo site, with scripted models."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.errors import ModelResponseError, ModelTimeoutError
from agent.loop import run_prompt
from agent.messages import (
    Message,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models.scripted import (
    ScriptedModel,
    ScriptedTurn,
    ScriptStep,
    tool_call,
)
from agent.results import Step
from tests.harness import Turns, find_ref, latest_observation


def _sent_results(model: ScriptedModel, request: int) -> list[str]:
    """The tool result texts the model was shown in request number ``request`` (1-based)."""
    messages = model.requests[request - 1].messages
    return [r.content for m in messages if isinstance(m, ToolResultMessage) for r in m.results]


def _size(messages: Sequence[Message]) -> int:
    return len(repr(messages))


async def test_fills_a_form_and_submits_it(
    session: BrowserSession,
    site: str,
    settings: Settings,
) -> None:
    await session.goto(f"{site}/contact.html")
    model = ScriptedModel(
        Turns.strict(
            lambda m: [  # parallel calls run one after another, in order
                tool_call("fill", ref=find_ref(m, "textbox", "Name"), value="Ada"),
                tool_call("fill", ref=find_ref(m, "textbox", "Email"), value="ada@example.com"),
                tool_call(
                    "select_option", ref=find_ref(m, "combobox", "Topic"), values=["Billing"]
                ),
                tool_call("check", ref=find_ref(m, "checkbox", "I agree to be contacted")),
            ],
            lambda m: [tool_call("click", ref=find_ref(m, "button", "Send message"))],
            lambda m: [
                tool_call(
                    "done", answer=re.search(r"Thanks, .*?Ticket #\d+\.", latest_observation(m))[0]
                )
            ],
        )
    )
    result = await run_prompt(
        session, "Send the contact form as Ada", model=model, settings=settings
    )

    assert result.stop_reason == "done", result.output
    assert result.success and result.error is None
    assert result.output == (
        "Thanks, Ada! We will reply to ada@example.com about billing. Ticket #4711."
    )
    assert "Ticket #4711" in result.result  # the snapshot the model last saw
    assert [len(s.tool_calls) for s in result.steps] == [4, 1, 1]
    first = result.steps[0]
    assert [r.name for r in first.results] == ["fill", "fill", "select_option", "check"]
    assert not any(r.is_error for s in result.steps for r in s.results)
    assert "Ada" in first.results[0].content
    assert model.requests[0].messages[1].content.startswith("# Task\nSend the contact form as Ada")


async def test_searches_and_reads_a_result(
    session: BrowserSession,
    site: str,
    settings: Settings,
) -> None:
    await session.goto(f"{site}/search.html")
    model = ScriptedModel(
        Turns.strict(
            lambda m: [
                tool_call("type", ref=find_ref(m, "searchbox", "Search products"), text="lamp"),
                tool_call("click", ref=find_ref(m, "button", "Search")),
            ],
            lambda m: [tool_call("click", ref=find_ref(m, "link", "Floor lamp"))],
            lambda m: [
                tool_call("done", answer=re.search(r"Price: (\S+)", latest_observation(m))[1])
            ],
        )
    )
    result = await run_prompt(
        session, "What does the floor lamp cost?", model=model, settings=settings
    )

    assert result.stop_reason == "done", result.output
    assert result.output == "$89.00"
    assert result.steps[2].url.endswith("product.html?id=2")
    second = latest_observation(model.requests[1].messages)
    assert '3 results for "lamp"' in second
    assert "element(s) with refs appeared" in second
    third = latest_observation(model.requests[2].messages)
    assert "the page changed from " + f"{site}/search.html" in third


async def test_follows_a_link_into_a_new_tab(
    session: BrowserSession,
    site: str,
    settings: Settings,
) -> None:
    await session.goto(f"{site}/tabs.html")
    model = ScriptedModel(
        Turns.strict(
            lambda m: [tool_call("click", ref=find_ref(m, "link", "Read the announcement"))],
            lambda m: [
                tool_call(
                    "done",
                    answer=re.search(r"[A-Z]+-\d+", latest_observation(m).split("# Snapshot")[1])[
                        0
                    ],
                )
            ],
        )
    )
    result = await run_prompt(
        session, "Find the discount code in the announcement", model=model, settings=settings
    )

    assert result.output == "ORCHID-42"
    second = latest_observation(model.requests[1].messages)
    assert "Tabs open: 2" in second
    assert "a new tab opened and is now the current page" in second
    assert result.steps[1].url.endswith("article.html")
    assert "a new tab opened" in result.steps[0].results[0].content


async def test_recovers_from_a_stale_ref(
    session: BrowserSession,
    site: str,
    settings: Settings,
) -> None:
    await session.goto(f"{site}/offers.html")
    seen: dict[str, str] = {}

    def refresh(m: Sequence[Message]) -> list[ToolCall]:
        seen["old"] = find_ref(m, "button", "Claim offer")
        return [tool_call("click", ref=find_ref(m, "button", "Refresh offers"))]

    def claim_new(m: Sequence[Message]) -> list[ToolCall]:
        seen["new"] = find_ref(m, "button", "Claim offer")
        return [tool_call("click", ref=seen["new"])]

    model = ScriptedModel(
        Turns.strict(
            refresh,
            lambda m: [tool_call("click", ref=seen["old"])],  # a ref from an older snapshot
            claim_new,
            lambda m: [
                tool_call(
                    "done", answer=re.search(r"Offer claimed[^\n]*", latest_observation(m))[0]
                )
            ],
        )
    )
    result = await run_prompt(
        session, "Refresh the offers, then claim one", model=model, settings=settings
    )

    assert seen["old"] != seen["new"]
    stale = result.steps[1].results[0]
    assert stale.is_error
    assert f"stale ref {seen['old']}" in stale.content
    assert "use its new ref" in stale.content  # the tool_error template's advice
    assert f"stale ref {seen['old']}" in _sent_results(model, 3)[-1]
    assert not result.steps[2].results[0].is_error
    assert result.output == "Offer claimed from list version 2."


async def test_unknown_tool_goes_back_to_the_model(
    session: BrowserSession, site: str, settings: Settings
) -> None:
    await session.goto(f"{site}/index.html")
    model = ScriptedModel([[tool_call("teleport", where="moon")], "There is no such tool."])
    result = await run_prompt(session, "Go to the moon", model=model, settings=settings)

    error = result.steps[0].results[0]
    assert error.is_error
    assert "no tool named 'teleport'" in error.content
    assert "Call only the tools you were given" in error.content
    assert error.content in _sent_results(model, 2)
    assert result.stop_reason == "answer"
    assert result.output == "There is no such tool."


async def test_malformed_arguments_go_back_to_the_model(
    session: BrowserSession, site: str, settings: Settings
) -> None:
    await session.goto(f"{site}/index.html")
    broken = ToolCall(
        id="c1",
        name="click",
        arguments={},
        arguments_error="the arguments are not valid JSON: Expecting ',' delimiter",
    )
    model = ScriptedModel(
        [
            [broken, tool_call("click", reff="@e1")],  # bad JSON, then a misspelt argument
            [tool_call("done")],  # done without its answer
            [tool_call("done", answer="ok")],
        ]
    )
    result = await run_prompt(session, "Click something", model=model, settings=settings)

    first, second = result.steps[0].results
    assert first.is_error and "not valid JSON" in first.content
    assert "as one JSON object" in first.content
    assert second.is_error and "Invalid arguments for click" in second.content
    missing = result.steps[1].results[0]
    assert missing.is_error and "answer" in missing.content
    assert result.stop_reason == "done" and result.output == "ok"


async def test_stops_at_max_steps(session: BrowserSession, site: str) -> None:
    await session.goto(f"{site}/index.html")
    model = ScriptedModel(lambda messages, tools: [tool_call("scroll", direction="down")])
    settings = Settings(max_steps=3)
    result = await run_prompt(session, "Scroll forever", model=model, settings=settings)

    assert result.stop_reason == "max_steps"
    assert not result.success
    assert len(result.steps) == 3
    assert "Stopped after 3 steps without a final answer" in result.output
    assert result.error == result.output
    last = model.requests[-1].messages
    assert "This is your last step" in last[-1].content  # type: ignore[union-attr]


async def test_model_error_stops_cleanly(session: BrowserSession, site: str) -> None:
    await session.goto(f"{site}/index.html")

    def policy(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[ToolCall]:
        if len(model.requests) > 1:
            raise ModelTimeoutError("openai did not answer within 60 s", provider="openai")
        return [tool_call("scroll")]

    model = ScriptedModel(policy)
    result = await asyncio.wait_for(
        run_prompt(session, "Do it", model=model, settings=Settings()), timeout=20
    )

    assert result.stop_reason == "model_error"
    assert not result.success
    assert result.error == "openai did not answer within 60 s"
    assert "The model failed" in result.output
    assert len(result.steps) == 1
    assert result.result  # the snapshot the failed request carried
    assert not session.lock.locked()


async def test_running_out_of_script_is_a_model_error(session: BrowserSession, site: str) -> None:
    await session.goto(f"{site}/index.html")
    result = await run_prompt(
        session, "Do it", model=ScriptedModel([[tool_call("scroll")]]), settings=Settings()
    )
    assert result.stop_reason == "model_error"
    assert "ran out of script" in (result.error or "")


async def test_wall_clock_timeout(session: BrowserSession, site: str) -> None:
    await session.goto(f"{site}/index.html")

    async def slow(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> str:
        await asyncio.sleep(30)
        return "too late"

    started = time.perf_counter()
    result = await run_prompt(
        session, "Wait", model=ScriptedModel(slow), settings=Settings(), timeout_s=0.5
    )

    assert time.perf_counter() - started < 5
    assert result.stop_reason == "timeout"
    assert "did not finish within 0.5 s" in (result.error or "")
    assert not session.lock.locked()
    # The run's budget went with the run: a snapshot taken now is not capped.
    assert not (await session.snapshot()).capped


async def test_plain_text_answer_and_empty_reply(
    session: BrowserSession, site: str, settings: Settings
) -> None:
    await session.goto(f"{site}/index.html")
    model = ScriptedModel(["", "The shop has five pages."])
    result = await run_prompt(session, "How many pages?", model=model, settings=settings)

    assert result.stop_reason == "answer"
    assert result.output == "The shop has five pages."
    nudges = [
        m
        for m in model.requests[1].messages
        if isinstance(m, UserMessage) and "neither a tool call nor an answer" in m.content
    ]
    assert len(nudges) == 1


async def test_records_steps_usage_and_holds_the_lock(
    session: BrowserSession, site: str, settings: Settings
) -> None:
    await session.goto(f"{site}/index.html")
    locked: list[bool] = []

    def policy(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptedTurn:
        locked.append(session.lock.locked())
        if len(locked) == 1:
            return ScriptedTurn(tool_calls=[tool_call("get_text")], usage=Usage(100, 10))
        return ScriptedTurn(tool_calls=[tool_call("done", answer="ok")], usage=Usage(150, 5, 80))

    recorded: list[Step] = []

    async def on_step(step: Step) -> None:
        recorded.append(step)

    model = ScriptedModel(policy)
    result = await run_prompt(session, "Read", model=model, settings=settings, on_step=on_step)

    assert locked == [True, True]
    assert recorded == result.steps
    assert result.usage == Usage(250, 15, 80)
    first = result.steps[0]
    assert first.number == 1 and first.usage == Usage(100, 10)
    assert first.snapshot_tokens > 0
    assert first.tool_latency_s > 0 and first.model_latency_s >= 0
    assert first.snapshot_latency_s > 0
    assert first.duration_s >= first.snapshot_latency_s + first.tool_latency_s
    assert "Demo shop" in first.results[0].content
    tools = {spec.name: spec for spec in model.requests[0].tools}
    assert "done" in tools and "click" in tools
    assert tools["done"].parameters["required"] == ["answer"]
    assert result.duration_s >= sum(s.duration_s for s in result.steps)


_LONG_PAGE = "<title>Long</title><h1>Long page</h1>" + "".join(
    f"<p>Paragraph {i}: the quick brown fox jumps over the lazy dog, again and again.</p>"
    f"<button>Action {i}</button>"
    for i in range(120)
)


async def test_old_snapshots_are_elided(session: BrowserSession, site: str) -> None:
    await session.goto(f"{site}/index.html")
    await session.page.set_content(_LONG_PAGE)
    steps = 8

    def policy(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptStep:
        if len(model.requests) == 1:
            return [tool_call("snapshot", mode="interactive")]
        if len(model.requests) < steps:
            return [tool_call("scroll", direction="down")]
        return [tool_call("done", answer="read it all")]

    model = ScriptedModel(policy)
    result = await run_prompt(
        session, "Read the page", model=model, settings=Settings(max_snapshot_tokens=4000)
    )

    assert result.stop_reason == "done"
    snapshot_chars = len(result.result)
    assert result.steps[0].snapshot_tokens > 1000
    sizes = [_size(r.messages) for r in model.requests]
    # Each step adds a few lines (the call, its result, a short note), never a whole snapshot.
    growth = sizes[-1] - sizes[2]
    assert growth < (steps - 3) * snapshot_chars * 0.15, (sizes, snapshot_chars)
    last = model.requests[-1].messages
    full = [m for m in last if isinstance(m, UserMessage) and "Paragraph 119" in m.content]
    assert len(full) == 1 and full[0] is last[-1]
    # steps - 1 older observations, plus the snapshot tool result of step 1.
    assert sum("removed to keep this conversation short" in repr(m) for m in last) == steps
    # The interactive snapshot the model asked for is shown once, then elided too.
    assert "Action 119" in _sent_results(model, 2)[0]
    assert "removed to keep this conversation short" in _sent_results(model, 3)[0]
    first = last[1]
    assert isinstance(first, UserMessage)
    assert first.content.startswith("# Task\nRead the page")  # the task outlives elision
    assert "Paragraph 0" not in first.content


async def test_model_response_error_mid_run_keeps_steps(
    session: BrowserSession, site: str, settings: Settings
) -> None:
    await session.goto(f"{site}/index.html")

    def policy(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[ToolCall]:
        if len(model.requests) == 3:
            raise ModelResponseError("the answer was cut off", provider="anthropic")
        return [tool_call("scroll")]

    model = ScriptedModel(policy)
    result = await run_prompt(session, "Scroll", model=model, settings=settings)
    assert result.stop_reason == "model_error"
    assert [s.number for s in result.steps] == [1, 2]
