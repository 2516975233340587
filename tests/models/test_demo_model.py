"""The offline demo model (``AGENT_MODEL=demo``): how it reads a task, and what it does with one on
a real page through the real server, created from the settings as ``agent serve`` creates it."""

from __future__ import annotations

import pytest

from agent.models import DemoModel, create_model
from agent.models.demo import LABEL
from agent.models.demo_commands import parse_task
from agent.server import ServerSettings
from tests.harness import RunningServer, quick_agent_settings, scrape_id_of


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("click Submit", [("click", "Submit", "")]),
        ('click "Sign in"', [("click", "Sign in", "")]),
        ("click the Save button", [("click", "Save button", "")]),
        ("fill Name with Ada Lovelace", [("fill", "Name", "Ada Lovelace")]),
        ("fill 'Email' with \"a@b.c\"", [("fill", "Email", "a@b.c")]),
        ("type hello into the Search box", [("fill", "Search box", "hello")]),
        ("select Large in Size", [("select", "Size", "Large")]),
        (
            'check "I agree", uncheck Newsletter',
            [("check", "I agree", ""), ("uncheck", "Newsletter", "")],
        ),
        ("What is the main heading?", [("heading", "", "")]),
        ("what's the title", [("title", "", "")]),
        ("read the page", [("read", "", "")]),
        ("What does it say?", [("read", "", "")]),
        (
            'fill Message with "Hi, there" then click Send, then what does the page say',
            [("fill", "Message", "Hi, there"), ("click", "Send", ""), ("read", "", "")],
        ),
        (
            "click Next and then click Finish; what is the heading",
            [("click", "Next", ""), ("click", "Finish", ""), ("heading", "", "")],
        ),
        ("book me a flight", [("unknown", "", "")]),
    ],
)
def test_a_task_is_read_as_commands(task: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(c.kind, c.target, c.value) for c in parse_task(task)] == expected


def test_demo_is_a_model_id_of_its_own_and_needs_no_key() -> None:
    model = create_model("demo", settings=quick_agent_settings())
    assert isinstance(model, DemoModel) and model.model_id == "demo"


@pytest.fixture(scope="module")
def demo_server() -> RunningServer:
    with RunningServer(
        ServerSettings(warm_browsers=0),
        scripted=False,  # the model comes from the settings, as with `agent serve`
        agent_settings=quick_agent_settings(model="demo", max_steps=8),
    ) as server:
        yield server


def test_the_demo_model_clicks_fills_and_answers_over_http(
    demo_server: RunningServer, site: str
) -> None:
    scrape_id = scrape_id_of(demo_server.scrape(f"{site}/form.html"))
    reply = demo_server.interact(
        scrape_id,
        prompt='fill "Name" with Ada, select Large in Size, check I agree, then click Submit, '
        "then what does the page say?",
    ).json()
    assert reply["success"] is True, reply
    output = reply["output"]
    assert output.startswith(f"{LABEL} Filled @e"), output
    assert "Selected 'Large'" in output and "Checked @e" in output and "Clicked @e" in output
    assert "Submitted Ada / l / agreed" in output
    # It really acted on the page, which the server's own view confirms.
    shown = demo_server.evaluate(scrape_id, "document.getElementById('out').textContent")
    assert shown == "Submitted Ada / l / agreed"
    assert "Submitted Ada / l / agreed" in reply["result"]  # the snapshot it last read

    heading = demo_server.interact(scrape_id, prompt="What is the main heading?").json()
    assert heading["output"] == f'{LABEL} The main heading is "Sign up".'
    title = demo_server.interact(scrape_id, prompt="what is the title").json()
    assert title["output"] == f'{LABEL} The page\'s title is "Form page".'

    missing = demo_server.interact(scrape_id, prompt="click Checkout").json()
    assert missing["output"].startswith(f"{LABEL} I could not click Checkout: nothing on the page")
    assert 'button "Submit"' in missing["output"]  # what it could act on instead
    demo_server.stop_session(scrape_id)


def test_the_demo_model_says_what_it_understands(demo_server: RunningServer, site: str) -> None:
    scrape_id = scrape_id_of(demo_server.scrape(f"{site}/page2.html"))
    reply = demo_server.interact(scrape_id, prompt="Summarise the news of the day").json()
    assert reply["success"] is True
    output = reply["output"]
    assert output.startswith(f"{LABEL} I am the offline demo model (AGENT_MODEL=demo)")
    assert 'I did not understand: "Summarise the news of the day"' in output
    for understood in ("click NAME", "fill NAME with TEXT", "what is the (main) heading"):
        assert understood in output
    demo_server.stop_session(scrape_id)


def test_at_the_step_limit_the_demo_model_still_answers_labelled(
    demo_server: RunningServer, site: str
) -> None:
    """Nine clicks do not fit in eight steps: the last step answers, saying what was left, so
    even that output says it came from the demo model (not the loop's own max-steps message)."""
    scrape_id = scrape_id_of(demo_server.scrape(f"{site}/form.html"))
    reply = demo_server.interact(scrape_id, prompt=", ".join(["click Menu"] * 9)).json()
    output = reply["output"]
    assert output.startswith(f"{LABEL} Clicked @e"), output
    assert output.count("Clicked @e") == 7
    assert output.endswith("before: click Menu; click Menu.")
    demo_server.stop_session(scrape_id)
