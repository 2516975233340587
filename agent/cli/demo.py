"""``agent demo``: the offline tour: a prompt, then code, on the bundled demo site, then evals.

With no model configured the prompt's model traffic is replayed from a shipped reference
cassette (recorded from the reference policy through the real ``openai`` SDK), so nothing needs
a key or a network; with ``AGENT_MODEL`` and its key set, a live model plans instead, and with
``AGENT_MODEL=demo`` the offline demo model does, given the task as commands it follows. Either
way the demo says which one it was.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from agent.cli.eval import run as run_eval

__all__ = ["register"]

DEMO_TASK = "demo-contact"
# The same task as commands the offline demo model (AGENT_MODEL=demo) follows.
DEMO_MODEL_PROMPT = (
    "fill Name with Ada, fill Email with ada@example.com, select Billing in Topic, fill Message "
    'with "Please send an invoice.", check "I agree to be contacted", then click "Send message", '
    "then what does the page say"
)
CODE = """\
status = await page.text_content("[role=status]")
print("the page now says:", status)
await page.title()"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="offline tour: a prompt and a code interaction on the demo site, then the evals",
        description="Runs a prompt (replayed from a reference cassette; a live model when "
        "AGENT_MODEL and its key are set; the offline demo model with AGENT_MODEL=demo) and a "
        "Python code interaction on the same page of the bundled demo site, then replays the "
        "eval suite and prints its summary.",
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the eval suite at the end")
    parser.set_defaults(handler=_demo)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _demo(args: argparse.Namespace) -> int:
    status = asyncio.run(_interactions())
    if status or args.no_eval:
        return status
    _say("\n== 3. The eval suite, replayed from the shipped cassettes (agent eval) ==")
    return run_eval(["--provider", "openai"])


async def _interactions() -> int:
    from agent.config import load_settings
    from agent.executors import run_code
    from agent.loop import run_prompt
    from agent.models import DemoModel
    from agent.models.base import create_model
    from agent.results import Step
    from evals.backends import EvalBackend, OpenedModel, reference_model_id
    from evals.browsers import fresh_browser
    from evals.runner import eval_settings
    from evals.sites import SiteServer, route_sites, site_url
    from evals.tasks import load_tasks

    (task,) = [t for t in load_tasks() if t.id == DEMO_TASK]
    settings = load_settings()
    prompt = task.prompt
    if settings.model is not None:
        model_id = settings.model
        opened = OpenedModel(create_model(model_id, settings=settings))
        label = f"live model {model_id}"
        run_settings = settings
        if isinstance(opened.model, DemoModel):
            label = "the offline demo model (AGENT_MODEL=demo: rules, not a language model)"
            prompt = DEMO_MODEL_PROMPT
    else:
        from evals.cassettes import cassette_path

        backend = EvalBackend(reference_model_id("openai"), "replay", _cassette_dir())
        opened = backend.open(task)
        label = (
            "replayed cassette "
            f"{cassette_path(_cassette_dir(), backend.model_id, task.id).name} (reference policy "
            "through the openai SDK: a plumbing check, not a model)"
        )
        run_settings = eval_settings(task, backend)

    def show(step: Step) -> None:
        for call, result in zip(step.tool_calls, step.results, strict=False):
            arguments = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
            mark = "error: " if result.is_error else ""
            _say(f"  step {step.number}: {call.name}({arguments}) -> {mark}{result.content[:100]}")

    with SiteServer() as server:
        async with fresh_browser().session() as session:
            await route_sites(session.context, server)
            await session.goto(site_url(task.start))
            _say(f"== 1. Prompt on {site_url(task.start)} ==")
            _say(f"model: {label}")
            _say(f"prompt: {prompt}")
            try:
                result = await run_prompt(
                    session, prompt, model=opened.model, settings=run_settings, on_step=show
                )
            finally:
                await opened.aclose()
            _say(f"output: {result.output}")
            _say(
                f"stopped: {result.stop_reason} after {len(result.steps)} steps; tokens in "
                f"{result.usage.input}, out {result.usage.output}"
            )
            _say("result (the snapshot the model last read), first lines:")
            for line in result.result.splitlines()[:8]:
                _say(f"  | {line}")
            _say("\n== 2. Code on the same page (python, page bound) ==")
            for line in CODE.splitlines():
                _say(f"  >>> {line}")
            code = await run_code(session, CODE, "python", timeout_s=60)
            _say(code.stdout.rstrip())
            if code.stderr:
                print(code.stderr.rstrip(), file=sys.stderr)
            _say(f"result: {code.result!r}  exitCode: {code.exit_code}")
            if not (result.success and code.success):
                print("demo: an interaction failed (see above)", file=sys.stderr)
                return 1
    return 0


def _cassette_dir() -> Path:
    from evals.cassettes import CASSETTES_DIR

    return CASSETTES_DIR
