"""The DevTools guard and the shared-browser confinement, command by command: allowed, refused
or rewritten. The end-to-end attacks are in ``tests/reliability`` (``test_reliability_devtools_
attacks.py``) and ``tests/scale/test_scale_confinement.py``."""

from __future__ import annotations

from typing import Any

import pytest

from agent.browser.cdp_allowlist import ALLOWED_METHODS
from agent.browser.cdp_confine import Confinement
from agent.browser.cdp_guard import refusal

CLIENT_METHODS = """
Accessibility.enable Accessibility.getFullAXTree Audits.enable Browser.getVersion
Browser.setDownloadBehavior DOM.enable DOM.getBoxModel DOM.getDocument DOM.resolveNode
DOM.scrollIntoViewIfNeeded Emulation.setDeviceMetricsOverride Emulation.setEmulatedMedia
Emulation.setFocusEmulationEnabled Emulation.setTouchEmulationEnabled Input.dispatchKeyEvent
Input.dispatchMouseEvent Input.insertText Inspector.enable Log.enable Network.enable
Page.addScriptToEvaluateOnNewDocument Page.captureScreenshot Page.createIsolatedWorld
Page.enable Page.getFrameTree Page.navigate Page.setFontFamilies Page.setLifecycleEventsEnabled
Performance.enable Runtime.callFunctionOn Runtime.enable Runtime.evaluate Runtime.releaseObject
Runtime.runIfWaitingForDebugger Target.attachToBrowserTarget Target.attachToTarget
Target.createBrowserContext Target.createTarget Target.detachFromTarget
Target.disposeBrowserContext Target.getBrowserContexts Target.getTargetInfo Target.getTargets
Target.setAutoAttach Target.setDiscoverTargets WebMCP.enable
""".split()
"""Every method the clients we support sent to the router during their tests (Playwright for
Python and Node as code and over cdpUrl, Puppeteer, agent-browser, the MCP server), logged at
the router; the allowlist was built from it."""

DOWNLOADS = "/srv/sessions/one/downloads"

# (method, params, what happens: "allowed", "refused: <fragment>", or the rewritten params)
GUARD_TABLE: list[tuple[str, dict[str, Any], Any]] = [
    ("Runtime.evaluate", {"expression": "1"}, "allowed"),
    ("Page.navigate", {"url": "https://example.com/"}, "allowed"),
    ("Page.navigate", {"url": "data:text/html,hi"}, "allowed"),
    ("Page.navigate", {"url": "file:///etc/shadow"}, "refused: only web URLs"),
    ("Page.navigate", {"url": " \tFiLe:///etc/shadow"}, "refused: not file:"),
    ("Page.navigate", {"url": "view-source:file:///etc/passwd"}, "refused: only web URLs"),
    ("Page.navigate", {"url": "chrome://version"}, "refused: not chrome:"),
    ("Target.createTarget", {"url": "file:///etc/shadow"}, "refused: only web URLs"),
    ("Network.loadNetworkResource", {"url": "file:///etc/passwd"}, "refused: only web URLs"),
    ("Fetch.continueRequest", {"requestId": "1", "url": "file:///x"}, "refused: web URLs"),
    ("DOM.setFileInputFiles", {"files": ["/etc/shadow"], "nodeId": 1}, "refused: not allowed"),
    ("DOM.getFileInfo", {"objectId": "1"}, "refused: not allowed for this client"),
    ("Input.dispatchDragEvent", {"data": {"files": ["/etc/shadow"]}}, "refused: dropping"),
    ("Input.dispatchDragEvent", {"type": "dragEnter", "x": 1, "y": 1, "data": {}}, "allowed"),
    ("Network.setCookie", {"name": "a", "value": "b", "path": "/"}, "allowed"),
    ("Page.someFuturePath", {"reportPath": "/tmp/x"}, "refused: not allowed"),
    ("Page.printToPDF", {"transferMode": "ReturnAsStream"}, "allowed"),
    # not on the allowlist
    ("SystemInfo.getProcessInfo", {}, "refused: SystemInfo.getProcessInfo is not allowed"),
    ("SystemInfo.getInfo", {}, "refused: not allowed for this client"),
    ("Tethering.bind", {"port": 8022}, "refused: Tethering.bind is not allowed"),
    ("Browser.getBrowserCommandLine", {}, "refused: not allowed for this client"),
    ("Browser.close", {}, "refused: not allowed"),
    ("Browser.crash", {}, "refused: not allowed"),
    ("Browser.executeBrowserCommand", {"commandId": "openTabSearch"}, "refused: not allowed"),
    ("Extensions.loadUnpacked", {"path": "/tmp/ext"}, "refused: not allowed"),
    ("PWA.launchFilesInApp", {"manifestId": "https://a/", "files": ["/x"]}, "refused: not"),
    ("Tracing.start", {}, "refused: not allowed"),
    ("Memory.simulatePressureNotification", {"level": "critical"}, "refused: not allowed"),
    ("Page.crash", {}, "refused: not allowed"),
    ("Target.exposeDevToolsProtocol", {"targetId": "T"}, "refused: not allowed"),
    ("Target.setRemoteLocations", {"locations": []}, "refused: not allowed"),
    ("Target.openDevTools", {"targetId": "T"}, "refused: not allowed"),
    ("Nonsense.method", {}, "refused: Nonsense.method is not allowed for this client"),
    ("", {}, "refused: not allowed"),
    # flat sessions only
    ("Target.sendMessageToTarget", {"sessionId": "S", "message": "{}"}, "refused: not allowed"),
    ("Target.attachToTarget", {"targetId": "T", "flatten": True}, "allowed"),
    ("Target.attachToTarget", {"targetId": "T"}, "refused: flatten: true only"),
    ("Target.attachToTarget", {"targetId": "T", "flatten": False}, "refused: flatten: true"),
    ("Target.attachToTarget", {"targetId": "T", "flatten": "yes"}, "refused: flatten: true"),
    ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True}, "refused: flat"),
    (
        "Target.setAutoAttach",
        {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
        "allowed",
    ),
    ("Target.setAutoAttach", {"autoAttach": False, "waitForDebuggerOnStart": False}, "allowed"),
    ("Target.autoAttachRelated", {"targetId": "T", "waitForDebuggerOnStart": False}, "allowed"),
    # downloads: into the session's folder, with events, whatever was asked
    (
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": "/root/.ssh"},
        {"behavior": "allow", "downloadPath": DOWNLOADS, "eventsEnabled": True},
    ),
    (
        "Browser.setDownloadBehavior",
        {"behavior": "default", "eventsEnabled": False},
        {"behavior": "allow", "downloadPath": DOWNLOADS, "eventsEnabled": True},
    ),
    (
        "Page.setDownloadBehavior",
        {"behavior": "allowAndName", "downloadPath": "../../etc"},
        {"behavior": "allowAndName", "downloadPath": DOWNLOADS},
    ),
    ("Browser.setDownloadBehavior", {"behavior": "deny"}, {"behavior": "deny"}),
    (
        "Browser.setDownloadBehavior",
        {"behavior": "deny", "downloadPath": "/root/.ssh"},
        {"behavior": "deny"},
    ),
]


@pytest.mark.parametrize(("method", "params", "outcome"), GUARD_TABLE)
def test_the_guard_allows_refuses_or_rewrites_each_command(
    method: str, params: dict[str, Any], outcome: Any
) -> None:
    asked: list[bool] = []

    def downloads() -> str:
        asked.append(True)
        return DOWNLOADS

    given = dict(params)
    said = refusal(method, given, downloads)
    if outcome == "allowed":
        assert said is None and given == params
    elif isinstance(outcome, str):
        assert said is not None and outcome.removeprefix("refused: ") in said, said
    else:
        assert said is None and given == outcome
    assert bool(asked) == (isinstance(outcome, dict) and "downloadPath" in outcome)


def test_every_method_the_supported_clients_use_is_allowed() -> None:
    assert sorted(set(CLIENT_METHODS) - ALLOWED_METHODS) == []


def test_a_refusal_names_the_method_and_says_what_is_allowed() -> None:
    said = refusal("SystemInfo.getProcessInfo", {}, lambda: DOWNLOADS)
    assert said is not None
    assert said.startswith("SystemInfo.getProcessInfo is not allowed for this client")


MINE, OTHER = "CONTEXT-MINE", "CONTEXT-OTHER"
MY_PAGE, OTHER_PAGE = "PAGE-MINE", "PAGE-OTHER"


@pytest.fixture
def confinement() -> Confinement:
    confined = Confinement(MINE)
    for target, context in ((MY_PAGE, MINE), (OTHER_PAGE, OTHER)):
        info = {"targetId": target, "browserContextId": context, "type": "page"}
        confined.learn({"method": "Target.targetCreated", "params": {"targetInfo": info}})
    return confined


# (method, params, on a browser session?, outcome as in GUARD_TABLE)
CONFINE_TABLE: list[tuple[str, dict[str, Any], bool, Any]] = [
    ("Target.getTargets", {}, True, "allowed"),
    ("Target.getTargets", {}, False, "allowed"),  # the answer is narrowed (see below)
    ("Target.createTarget", {"url": "about:blank"}, True, {"browserContextId": MINE}),
    ("Target.createTarget", {"url": "about:blank"}, False, {"browserContextId": MINE}),
    ("Target.createTarget", {"browserContextId": OTHER}, True, "refused: No browser context"),
    ("Target.createTarget", {"browserContextId": OTHER}, False, "refused: No browser context"),
    ("Storage.getCookies", {}, True, {"browserContextId": MINE}),
    ("Storage.getCookies", {}, False, {}),  # a page's own cookies: Chromium takes no context
    ("Storage.getCookies", {"browserContextId": OTHER}, False, "refused: No browser context"),
    ("Storage.getCookies", {"browserContextId": OTHER}, True, "refused: No browser context"),
    ("Target.attachToTarget", {"targetId": OTHER_PAGE}, True, "refused: No target"),
    ("Target.attachToTarget", {"targetId": OTHER_PAGE}, False, "refused: No target"),
    ("Target.attachToTarget", {"targetId": MY_PAGE, "flatten": True}, False, "allowed"),
    ("Target.autoAttachRelated", {"targetId": OTHER_PAGE}, True, "refused: No target"),
    ("Target.getTargetInfo", {"targetId": OTHER_PAGE}, False, "refused: No target"),
    ("Target.closeTarget", {"targetId": OTHER_PAGE}, False, "refused: No target"),
    ("Target.activateTarget", {"targetId": "NEVER-SEEN"}, False, "refused: No target"),
    ("Browser.getWindowForTarget", {"targetId": OTHER_PAGE}, False, "refused: No target"),
    ("Target.createBrowserContext", {}, True, "refused: on a shared browser"),
    ("Target.createBrowserContext", {}, False, "refused: on a shared browser"),
    ("Target.disposeBrowserContext", {"browserContextId": MINE}, False, "refused: shared"),
    ("Target.sendMessageToTarget", {"sessionId": "S"}, False, "refused: shared browser"),
    ("Browser.close", {}, False, "refused: on a shared browser"),
    ("Tracing.start", {}, True, "refused: on a shared browser"),
    ("Fetch.enable", {}, True, "refused: on a shared browser"),  # every context's requests
    ("Fetch.enable", {}, False, "allowed"),  # its own page's
    ("Runtime.evaluate", {"expression": "document.cookie"}, False, "allowed"),
]


@pytest.mark.parametrize(("method", "params", "browser_level", "outcome"), CONFINE_TABLE)
def test_a_confined_client_reaches_its_own_context_only_on_any_session(
    confinement: Confinement, method: str, params: dict[str, Any], browser_level: bool, outcome: Any
) -> None:
    given = dict(params)
    said = confinement.refusal(method, given, browser_level=browser_level)
    if outcome == "allowed":
        assert said is None and given == params
    elif isinstance(outcome, str):
        assert said is not None and outcome.removeprefix("refused: ") in said, said
    else:
        assert said is None and given == {**params, **outcome}


def test_a_confined_answer_lists_the_contexts_own_targets_only(confinement: Confinement) -> None:
    infos = [
        {"targetId": MY_PAGE, "browserContextId": MINE},
        {"targetId": OTHER_PAGE, "browserContextId": OTHER},
    ]
    answer = confinement.answer("Target.getTargets", {"targetInfos": infos})
    assert [info["targetId"] for info in answer["targetInfos"]] == [MY_PAGE]
    contexts = confinement.answer("Target.getBrowserContexts", {"browserContextIds": [OTHER]})
    assert contexts == {"browserContextIds": [MINE]}


def test_a_confined_client_sees_its_own_contexts_downloads_only(confinement: Confinement) -> None:
    def event(method: str, **params: str) -> dict[str, object]:
        return {"method": method, "params": params}

    mine = event("Browser.downloadWillBegin", guid="G1", frameId=MY_PAGE, url="https://a/")
    theirs = event("Browser.downloadWillBegin", guid="G2", frameId=OTHER_PAGE, url="https://b/")
    assert confinement.shows(mine) and not confinement.shows(theirs)
    assert confinement.shows(event("Browser.downloadProgress", guid="G1", state="completed"))
    assert not confinement.shows(event("Browser.downloadProgress", guid="G2", state="completed"))
