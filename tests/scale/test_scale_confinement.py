"""Sessions sharing one remote browser, each in its own context: code in one of them, holding
DevTools to the shared browser, cannot reach the other's context, not even on a second browser
session it attaches itself (``Target.attachToBrowserTarget``, which Playwright's
``new_browser_cdp_session`` uses)."""

from __future__ import annotations

import json
from pathlib import Path

from agent.server import ServerSettings
from tests.harness import RunningServer, quick_agent_settings

PROBE = """
import json
cdp = await page.context.browser.new_browser_cdp_session()
refused = {}
for method, params in [
    ("Target.createBrowserContext", {}),
    ("Target.disposeBrowserContext", {"browserContextId": OTHER_CONTEXT}),
    ("Tracing.start", {}),
    ("Target.exposeDevToolsProtocol", {"targetId": OTHER_TARGET}),
    ("Target.attachToTarget", {"targetId": OTHER_TARGET, "flatten": True}),
    ("Target.createTarget", {"url": "about:blank", "browserContextId": OTHER_CONTEXT}),
]:
    try:
        await cdp.send(method, params)
    except Exception as exc:
        refused[method] = str(exc)
targets = (await cdp.send("Target.getTargets"))["targetInfos"]
json.dumps({"refused": sorted(refused), "urls": sorted(t["url"] for t in targets)})
"""


def test_code_on_a_shared_browser_reaches_only_its_own_context(
    cdp_endpoint: str, site: str, tmp_path: Path
) -> None:
    settings = ServerSettings(
        browser_endpoints=[{"kind": "cdp", "url": cdp_endpoint, "capacity": 4}],
        profiles_dir=tmp_path / "profiles",
        warm_browsers=0,
    )
    with RunningServer(settings, agent_settings=quick_agent_settings()) as server:
        mine = server.scrape_id(f"{site}/form.html?who=a")
        other = server.scrape_id(f"{site}/form.html?who=b")
        other_browser = server.registry.get(other).browser_session
        other_context = other_browser.handle.context_id
        other_target = server.run(_target_of(other_browser))
        code = PROBE.replace("OTHER_CONTEXT", json.dumps(other_context)).replace(
            "OTHER_TARGET", json.dumps(other_target)
        )
        reply = server.interact(mine, code=code, language="python").json()
        assert reply["success"], reply
        seen = json.loads(reply["result"])
        assert seen["refused"] == sorted(
            [
                "Target.attachToTarget", "Target.createBrowserContext", "Target.createTarget",
                "Target.disposeBrowserContext", "Target.exposeDevToolsProtocol", "Tracing.start",
            ]
        ), seen  # fmt: skip
        assert f"{site}/form.html?who=a" in seen["urls"], seen
        assert not any("who=b" in url for url in seen["urls"]), seen
        # The other session is untouched and still works.
        ran = server.interact(other, code="page.url", language="python").json()
        assert ran["success"] and ran["result"] == f"{site}/form.html?who=b", ran


async def _target_of(browser: object) -> str:
    session = await browser.context.new_cdp_session(browser.page)  # type: ignore[attr-defined]
    info = await session.send("Target.getTargetInfo")
    await session.detach()
    return str(info["targetInfo"]["targetId"])
