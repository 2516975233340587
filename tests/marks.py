"""Which markers a test gets from where it lives and what it asks for, so no test file has to
mark itself and a developer can run a fast subset (``-m "not browser and not sandbox and not
redis and not slow"``; CONTRIBUTING.md says how long each subset takes).

A test's markers are its folder's, then its file's, then its own (``file::test``); each entry
adds to the ones before it, or with ``REPLACE`` first replaces them. Then one per fixture in
``BY_FIXTURE`` that the test uses. The markers
themselves are registered, with what each means, in ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BY_FIXTURE", "BY_PATH", "REPLACE", "marks_for"]

TESTS = Path(__file__).resolve().parent

# A file entry starting with this drops its folder's markers: a fast file in a slow folder.
REPLACE = "-"

BY_PATH: dict[str, tuple[str, ...]] = {
    # The browser core: snapshots, refs and the box on a real Chromium; the parsers and the
    # DevTools guard are tested command by command, with no browser.
    "browser": ("browser",),
    "browser/test_aria_tree.py": (REPLACE,),
    "browser/test_cdp_downloads.py": (REPLACE,),
    "browser/test_cdp_guard.py": (REPLACE,),
    "browser/test_browser_box.py": ("sandbox",),
    "tools": ("browser",),
    "tools/test_action_ownership.py": (REPLACE,),  # reads the source, starts nothing
    # `agent` as a user types it: it starts its own server in the background.
    "cli": ("browser", "sandbox", "slow"),
    "docs": (),
    # The eval runner replays whole task suites against the local sites in a real browser.
    "evals": ("browser", "slow"),
    "evals/test_eval_cassette_hygiene.py": (REPLACE,),
    "evals/test_provider_server.py": (REPLACE,),
    "evals/test_tasks.py": (REPLACE,),
    "evals/test_load_burst.py": ("sandbox",),  # agent serve's default, boxed browsers
    # Code runs in a bubblewrap box, bound to a real browser session.
    "executors": ("browser", "sandbox"),
    "loop": ("browser",),
    "loop/test_planner_prompts.py": (REPLACE,),
    "mcp": ("browser", "mcp", "slow"),
    # Model wires replayed from cassettes and providers on a loopback fake: no browser.
    "models": (),
    "models/test_demo_model.py": ("browser",),
    "observability": ("browser",),
    "observability/test_observability_units.py": (REPLACE,),
    "observability/test_mcp_logs.py": ("mcp", "slow"),
    "observability/test_json_logs.py": ("slow",),
    "observability/test_usage.py": ("redis",),
    # Bad input, faults and the security attacks, on the real server and its boxes.
    "reliability": ("browser",),
    "reliability/test_reliability_browser_box.py": ("sandbox",),
    "reliability/test_reliability_browser_egress.py": ("sandbox",),
    "reliability/test_reliability_devtools_attacks.py": ("sandbox", "mcp"),
    "reliability/test_reliability_downloads.py": ("sandbox",),
    "reliability/test_reliability_fuzz.py": ("slow",),
    "reliability/test_reliability_leftovers.py": ("sandbox",),
    "reliability/test_reliability_sandbox.py": ("sandbox",),
    # Endpoints and replicas: browser servers, redis-server and `agent serve` processes.
    "scale": ("browser", "slow"),
    "scale/test_placement.py": (REPLACE, "redis"),
    "scale/test_replica_settings.py": (REPLACE,),
    # `agent serve` checks at start-up that a browser box works: Chromium, in bubblewrap.
    "scale/test_replica_settings.py::test_agent_serve_says_what_is_wrong_in_one_line": (
        "browser",
        "sandbox",
    ),
    "scale/test_scale_cross_context.py": ("sandbox",),
    "scale/test_scale_observability.py": ("redis",),
    "scale/test_scale_out.py": ("redis",),
    # The prompt cache and recipes: replayed on a real server and browser, by replicas on Redis.
    "recipes": ("browser",),
    "recipes/test_prompt_cache_redis.py": ("redis", "slow"),
    "recipes/test_recipe_script.py": ("sandbox",),
    "server": ("browser",),
    "server/test_server_interact.py": ("sandbox",),
    "server/test_server_js_sdk.py": ("slow",),
    "server/test_server_turns.py": (REPLACE,),
    "server/test_server_units.py": (REPLACE,),
    "server/test_server_units.py::test_agent_serve_runs_and_stops_cleanly": ("browser", "sandbox"),
}

# A fixture that starts the thing a marker names marks every test that uses it.
BY_FIXTURE: dict[str, str] = {
    "session": "browser",
    "redis_url": "redis",
}


def marks_for(path: Path, test: str, fixtures: list[str]) -> set[str]:
    """The markers of test function ``test`` in ``path``, which uses ``fixtures``."""
    parts = path.resolve().relative_to(TESTS).parts
    keys = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
    marks: set[str] = set()
    for key in [*keys, f"{keys[-1]}::{test}"]:
        entry = BY_PATH.get(key, ())
        if REPLACE in entry:
            marks.clear()
        marks.update(name for name in entry if name != REPLACE)
    marks.update(BY_FIXTURE[name] for name in fixtures if name in BY_FIXTURE)
    return marks
