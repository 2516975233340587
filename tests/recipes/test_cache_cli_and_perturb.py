"""``agent cache list|show|clear`` on the store the server uses, and the perturbed eval pages:
the same names in another nesting, with unrelated elements first, and a replay that holds on
them with no model call."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from agent.recipes import CacheEntry, Recipe, RecipeStep, SqliteRecipeStore
from evals.cache_eval import run_cache_suite
from evals.perturb import perturb_html
from evals.tasks import load_tasks
from tests.subprocesses import run_agent
from tools.find import Description


def _agent(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    env.update(AGENT_DATA_DIR=str(data), PYTHONPATH=os.getcwd())
    return run_agent(env, "cache", *args)


async def test_cache_cli_lists_shows_and_clears(tmp_path: Path) -> None:
    store = SqliteRecipeStore(tmp_path / "prompt_cache.sqlite3", ttl_s=3600)
    step = RecipeStep("click", {}, Description("role", "button", "Continue"))
    now = time.time()
    for key in ("k1", "k2"):
        recipe = Recipe((step,), answer="Sent.")
        entry = CacheEntry(key, f"press {key}", "http://a.test", "/x", recipe, now, now + 3600)
        await store.put(entry)
    await store.close()

    listed = _agent(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "k1  http://a.test/x  1 steps" in listed.stdout and "'press k2'" in listed.stdout
    shown = _agent(tmp_path, "show", "k1")
    assert json.loads(shown.stdout)["recipe"]["steps"][0]["target"]["name"] == "Continue"
    missing = _agent(tmp_path, "show", "nope")
    assert missing.returncode == 1 and "agent cache list" in missing.stderr
    assert _agent(tmp_path, "clear", "k1").stdout.strip() == "deleted k1"
    assert "k1" not in _agent(tmp_path, "list").stdout
    assert _agent(tmp_path, "clear").stdout.strip() == "deleted 1 recipe(s)"
    assert _agent(tmp_path, "list").stdout == ""


def test_perturbed_page_keeps_names_and_changes_the_rest() -> None:
    page = (
        '<html><body class="b"><main><label for="e">Email</label><input id="e" class="f">'
        '<button class="go wide">Send</button></main></body></html>'
    )
    changed = perturb_html(page)
    assert changed.index("Dismiss tips") < changed.index(">Send<")  # unrelated first
    assert '<div class="pz-outer"><div class="pz-inner"><main>' in changed
    assert 'class="go wide pz-go pz-wide"' in changed and "<button data-pz" in changed
    assert 'for="e">Email</label>' in changed and 'id="e"' in changed
    assert perturb_html("<p>no body</p>") == "<p>no body</p>"


async def test_replay_holds_on_the_perturbed_site() -> None:
    [(fill, again)] = await run_cache_suite(load_tasks(pattern="login-basic"), pages="perturbed")
    assert fill.success and fill.status == "miss" and fill.model_calls > 0
    assert again.success and again.status == "hit" and again.model_calls == 0
