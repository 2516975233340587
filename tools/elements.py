"""What every element action shares: checking the element can be acted on, acting, and waiting
for the page to settle afterwards. Errors are ``ToolError`` with text written for the model."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.browser import page_js
from agent.errors import SessionLostError, ToolError, first_line

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import ElementHandle, Locator, Page

    from agent.browser.network import NetworkMonitor
    from agent.browser.session import BrowserSession

__all__ = ["act_on", "ensure_actionable", "problem_of", "requests_routed", "settle"]

_IDLE_WAIT_CAP_S = 1.0  # the script caps itself at 0.6 s; a page can replace its timers
_REQUEST_EVENT_LAG_S = 0.02
"""How late a request the page started just before it ran idle may be announced, when routes
intercept its requests (``requests_routed``: the private-address guard, a ``page.route`` of the
caller's). Without routes Playwright announces it before the page's answer to our call (40 of
40 times); with them, only once the browser has paused it for them. Measured from a call whose
page code starts a request and returns: 0.4-0.9 ms later (median of 40), 7 ms at most, on a
2-core machine idle and with three busy processes. A request whose answer starts another at
once (a token, then the data) was missed without this wait (the navigate tests show it)."""


async def _actionable_state(target: Locator | ElementHandle, ref: str) -> dict[str, Any]:
    try:
        state: dict[str, Any] = await target.evaluate(page_js.CHECK_ACTIONABLE)
    except PlaywrightError as exc:
        raise ToolError(
            f"{ref} could not be inspected ({first_line(exc)}); take a new snapshot."
        ) from exc
    return state


async def problem_of(target: Locator | ElementHandle, ref: str, *, pointer: bool) -> str | None:
    """Why the element cannot be acted on now: ``detached``, ``disabled``, ``hidden``, or
    ``covered`` (for a ``pointer`` action only); None when it can."""
    problem = (await _actionable_state(target, ref)).get("problem")
    return None if problem == "covered" and not pointer else problem


async def ensure_actionable(
    target: Locator | ElementHandle, ref: str, *, pointer: bool
) -> dict[str, Any]:
    """Fail fast, saying why, when the element is detached, hidden, disabled or covered; else
    what was found out about it (``opensTab``: a link or submit that opens a new tab)."""
    state = await _actionable_state(target, ref)
    problem = state.get("problem")
    if problem == "detached":
        raise ToolError(
            f"stale ref {ref}: the element was removed from the page. Take a new snapshot."
        )
    if problem == "disabled":
        raise ToolError(
            f"{ref} is disabled, so it cannot be used yet. Something else on the page probably "
            "has to be done first (fill required fields, accept terms, pick an option)."
        )
    if problem == "hidden":
        raise ToolError(
            f"{ref} is not visible (hidden or collapsed). Open the menu, tab or section that "
            "contains it first, then take a new snapshot."
        )
    if problem == "covered" and pointer:
        raise ToolError(
            f"{ref} is covered by another element: {state.get('by')}. Close or dismiss that "
            "first (a dialog, cookie banner or overlay), then try again."
        )
    return state


async def settle(
    session: BrowserSession, *, quiet_ms: int = 150, max_wait_s: float = 3.0, loaded: bool = False
) -> str | None:
    """Wait for what an action set off: a navigation to load, and network requests to finish.
    Returns, when ``loaded`` and the page was found settled when it last ran idle, its title
    then (one call fewer for ``navigate``, which answers with it); else None.

    ``loaded``: the action was a navigation that has already waited for its load event. The
    requests the new document starts once loaded (its data, a script's timer) are then waited
    for without the fixed quiet window: the page is let run until its main thread is idle, by
    which time its startup code has started them; while a request is then in flight, the wait
    is for it to end and for the page to run idle again (what its answer sets off starts in
    that time), until none is. (The window cost every navigation 150 ms, and again after the
    last request; Playwright MCP's navigate waits for nothing after the load event.)
    Otherwise for 150 ms of quiet; not for a new page's icon, which the page is asked for when
    a request typed as icons are is in flight.
    """
    if not loaded:
        await asyncio.sleep(0.03)  # let a click's navigation, fetch or new tab start
    page = session.page  # after the pause: a tab the action opened is the page to wait for
    with contextlib.suppress(PlaywrightError):
        await page.wait_for_load_state("load", timeout=session.navigation_timeout_ms)
    monitor = session.network
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_s
    if loaded:
        asked, title = await _idle_with_nothing_in_flight(page, monitor, deadline)
        if asked:
            return title
    asked_for_icons = False
    while loop.time() < deadline and not monitor.quiet_for(quiet_ms / 1000):
        if not asked_for_icons and monitor.may_be_fetching_icons:
            # A navigation's new page: its icon, fetched after its load event, must not count.
            asked_for_icons = True
            await _learn_icons(page, monitor)
            continue
        await asyncio.sleep(0.02)
    if session.page is not page:
        # A tab the action opened was announced only while we waited (a busy machine can take
        # longer than the pause above): it is the page now, so wait for it to load too.
        with contextlib.suppress(PlaywrightError):
            await session.page.wait_for_load_state("load", timeout=session.navigation_timeout_ms)
    return None


async def _idle_with_nothing_in_flight(
    page: Page, monitor: NetworkMonitor, deadline: float
) -> tuple[bool, str | None]:
    """Let the page run idle, and while a request is then in flight, wait for none to be and
    let it run idle again; until ``deadline``. Whether the page could be asked (no: the caller
    waits for network quiet instead), and its title at the idle moment it was found settled at
    (None when the deadline came first, or the page did not say)."""
    loop = asyncio.get_running_loop()
    lag_s = _REQUEST_EVENT_LAG_S if requests_routed(page) else 0.0
    while (idle := await _ran_until_idle(page, monitor)) is not None:
        idle_at = time.monotonic()
        while monitor.idle and time.monotonic() - idle_at < lag_s:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        if monitor.idle and not monitor.changed_since(idle_at):
            title = idle.get("title")
            return True, title if isinstance(title, str) else None
        while not monitor.idle:  # then let the page run what the answers set off
            if loop.time() >= deadline:
                return True, None
            await asyncio.sleep(0.02)
    return False, None


def requests_routed(page: Page) -> bool:
    """Whether routes of this Playwright connection intercept ``page``'s requests (its own or
    its context's), so that a request is announced only once the browser has paused it for
    them. Read from Playwright's private route lists: no public call says; where they are not
    found (another Playwright version), the answer is yes, which costs a wait, never a miss."""
    for owner in (page, page.context):
        routes = getattr(getattr(owner, "_impl_obj", None), "_routes", None)
        if not isinstance(routes, list) or routes:
            return True
    return False


async def _ran_until_idle(page: Page, monitor: NetworkMonitor) -> dict[str, Any] | None:
    """Let the page run until its main thread is idle, and tell ``monitor`` which requests are
    the tab's icons, which nothing waits for. What the page answered then (``UNTIL_IDLE``; an
    empty dict when not shaped as it should be), or None when it could not be asked."""
    try:
        answer = await asyncio.wait_for(page.evaluate(page_js.UNTIL_IDLE), _IDLE_WAIT_CAP_S)
    except (PlaywrightError, TimeoutError):
        return None
    if not isinstance(answer, dict):  # the page replaced what the script calls
        return {}
    _tell_icons(monitor, answer.get("icons"))
    return answer


async def _learn_icons(page: Page, monitor: NetworkMonitor) -> None:
    """Tell ``monitor`` which requests are the tab's icons, as the page names them now."""
    with contextlib.suppress(PlaywrightError, TimeoutError):
        _tell_icons(
            monitor, await asyncio.wait_for(page.evaluate(page_js.TAB_ICONS), _IDLE_WAIT_CAP_S)
        )


def _tell_icons(monitor: NetworkMonitor, icons: object) -> None:
    """Pass the page's answer on to ``monitor`` if it is a list of addresses (the page could
    have replaced what the script calls)."""
    if isinstance(icons, list) and all(isinstance(url, str) for url in icons):
        monitor.icons_are(icons)


async def act_on(
    session: BrowserSession,
    target: Locator | ElementHandle,
    label: str,
    action: Callable[[Locator | ElementHandle], Awaitable[Any]],
    *,
    pointer: bool = True,
    opens_tab: bool | None = None,
) -> None:
    """Check an element found by a ref or a selector, act on it, and wait for the page to
    settle; ``label`` names it in errors. ``pointer`` actions also fail on a covered element.
    ``opens_tab``: the action follows a link or submits a form (a click; Enter on one), so on a
    ``target=_blank`` one it waits for the new tab to be announced; pointer actions by default."""
    state = await ensure_actionable(target, label, pointer=pointer)
    url_before, tabs_before = session.page.url, len(session.tabs)
    try:
        await action(target)
    except PlaywrightTimeoutError as exc:
        raise ToolError(_explain_timeout(label, exc, session.action_timeout_ms)) from exc
    except PlaywrightError as exc:
        if not session.alive:
            raise SessionLostError("The session's browser died during the action.") from exc
        raise ToolError(f"Could not act on {label}: {first_line(exc)}") from exc
    if (pointer if opens_tab is None else opens_tab) and state.get("opensTab"):
        await _new_tab_announced(session, tabs_before)
    if session.page.url != url_before or pointer:
        await settle(session)


async def _new_tab_announced(
    session: BrowserSession, tabs_before: int, wait_s: float = 3.0
) -> None:
    """Wait until the tab a ``target=_blank`` link or form opened is announced: on a busy machine
    that takes longer than ``settle``'s pause, and the tab would then be missed (neither waited
    for nor reported as what changed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while len(session.tabs) <= tabs_before and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _explain_timeout(ref: str, exc: Exception, timeout_ms: float) -> str:
    message = str(exc)
    if "intercepts pointer events" in message:
        culprit = next(
            (
                line.strip(" -")
                for line in message.splitlines()
                if "intercepts pointer events" in line
            ),
            "another element",
        )
        return f"{ref} is covered: {culprit}. Dismiss what covers it first, then try again."
    if "not enabled" in message or "disabled" in message:
        return f"{ref} stayed disabled for {timeout_ms / 1000:.0f} s. Do what enables it first."
    if "not visible" in message:
        return f"{ref} stayed invisible for {timeout_ms / 1000:.0f} s. Reveal it first."
    if "not stable" in message:
        return f"{ref} kept moving (an animation?) for {timeout_ms / 1000:.0f} s; try again."
    return f"Acting on {ref} timed out after {timeout_ms / 1000:.0f} s: {first_line(exc)}"
