"""Running a scrape's actions on the session's page, in order, as Firecrawl's v2 API defines them.

Each action acts on whatever page the previous one left (a click that opens a tab moves on to
that tab), and the session keeps that page afterwards, so an interact call starts where the
actions stopped. Element actions go through the tools' own actionability checks
(``tools.elements.act_on``): a covered, hidden or disabled element fails at once, saying why.
A click with ``all`` clicks every match and, as Firecrawl documents, succeeds when nothing
matches; a match a user could not click either (hidden, covered by another element, or removed
by an earlier click) is skipped rather than failing the rest. Outputs are collected as
Firecrawl returns them in ``data.actions``.

A failing action raises ``SCRAPE_ACTION_ERROR`` naming the action's index in the request
(``actions[2]``) and what failed. Time is bounded by the scrape: waits and captures get at most
what remains of its timeout, and :attr:`ActionRun.current` says which action was running when
it ran out.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.errors import RequestError, SessionLostError, ToolError, first_line
from agent.observability import current_telemetry
from agent.service.scrape_options import (
    Action,
    ClickAction,
    ExecuteJavascriptAction,
    PdfAction,
    PressAction,
    ScrapeAction,
    ScreenshotAction,
    ScreenshotOptions,
    ScrollAction,
    WaitAction,
    WriteAction,
)
from tools import element_actions as act
from tools import page_actions
from tools.context import ToolContext
from tools.elements import problem_of
from tools.targets import SelectorTarget, TargetError, focused, resolve, resolve_all

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession

__all__ = ["ActionRun", "describe", "take_screenshot"]

_API_PREFIX = re.compile(r"^[A-Z]\w*\.\w+: ")
# What a click with `all` passes over: a match no one could click (hidden, or under another
# element), or one an earlier click of the same action removed.
_SKIPPED_BY_CLICK_ALL = frozenset({"hidden", "covered", "detached"})
# Scroll an element that scrolls by one of its own heights (one of the window's without one);
# an element that cannot scroll is brought into view instead, as Firecrawl's own scroll does.
_SCROLL_JS = """([el, sign]) => {
  if (el && el.scrollHeight <= el.clientHeight) { el.scrollIntoView({block: 'center'}); return; }
  const box = el || document.scrollingElement || document.documentElement;
  box.scrollBy(0, sign * (el ? el.clientHeight : window.innerHeight));
}"""

# A script is the body of an async function, so `return` gives its value and `await` works.
# The value comes back as Firecrawl's {type, value}: its typeof, and itself as JSON.
_SCRIPT_WRAPPER = """(async () => {{
  const value = await (async () => {{
{script}
  }})();
  let json = null;
  try {{ json = JSON.stringify(value); }} catch (e) {{ json = JSON.stringify(String(value)); }}
  return {{type: value === null ? 'null' : typeof value, json: json ?? null}};
}})()"""


def describe(action: Action) -> str:
    """An action as a short phrase for messages: ``click '#go'``, ``wait 500 ms``."""
    if isinstance(action, WaitAction):
        if action.selector is not None:
            return f"wait for {action.selector!r}"
        return f"wait {action.milliseconds} ms"
    if isinstance(action, ClickAction):
        return f"click {'every ' if action.all else ''}{action.selector!r}"
    if isinstance(action, WriteAction):
        return f"write {_clip(action.text)!r}"
    if isinstance(action, PressAction):
        return f"press {action.key!r}"
    if isinstance(action, ScrollAction):
        return f"scroll {action.direction}" + (f" {action.selector!r}" if action.selector else "")
    return action.type


@dataclass
class ActionRun:
    """Runs one scrape's actions and keeps their outputs (``data.actions``).

    Args:
        session: the session whose current page the actions act on.
        deadline: ``time.monotonic()`` by which the scrape must be done.
    """

    session: BrowserSession
    deadline: float
    screenshots: list[str] = field(default_factory=list)
    scrapes: list[dict[str, str]] = field(default_factory=list)
    javascript_returns: list[dict[str, Any]] = field(default_factory=list)
    pdfs: list[str] = field(default_factory=list)
    current: tuple[int, Action] | None = None
    """The action running now (its index and itself), for a timeout's message."""

    def outputs(self) -> dict[str, Any]:
        """``data.actions``: every list, as Firecrawl returns them when actions were sent."""
        return {
            "screenshots": self.screenshots,
            "scrapes": self.scrapes,
            "javascriptReturns": self.javascript_returns,
            "pdfs": self.pdfs,
        }

    async def run(self, actions: list[Action]) -> None:
        """Run ``actions`` in order; the first failure stops the rest.

        Raises:
            RequestError: SCRAPE_ACTION_ERROR naming the action that failed and why.
            TimeoutError: the scrape's deadline passed while an action waited
                (:attr:`current` names it).
            SessionLostError: the browser died meanwhile.
        """
        telemetry = current_telemetry()
        for index, action in enumerate(actions):
            self.current = (index, action)
            attributes = {"agent.action.index": index, "agent.action.type": action.type}
            try:
                with telemetry.span(f"scrape.action {action.type}", attributes=attributes):
                    await self._run_one(action)
            except PlaywrightTimeoutError as exc:
                if time.monotonic() >= self.deadline - 0.1:
                    raise TimeoutError from exc  # the scrape's time ran out: a 408, not a 400
                raise self._failure(index, action, exc) from exc
            except (ToolError, PlaywrightError) as exc:
                if isinstance(exc, PlaywrightError) and not self.session.alive:
                    raise SessionLostError(
                        f"The browser died during actions[{index}] ({describe(action)})."
                    ) from exc
                raise self._failure(index, action, exc) from exc
        self.current = None

    def _failure(self, index: int, action: Action, exc: Exception) -> RequestError:
        # Playwright names its own API call first ("Page.evaluate: Error: boom"): the client
        # wrote no such call, so only what went wrong is kept.
        if isinstance(exc, TargetError):
            reason = exc.problem  # the advice is this face's own (_advice)
        elif isinstance(exc, ToolError):
            reason = str(exc)
        else:
            reason = _API_PREFIX.sub("", first_line(exc))
        return RequestError(
            "SCRAPE_ACTION_ERROR",
            f"actions[{index}] ({describe(action)}) failed: {reason.rstrip('.')}"
            + _advice(action, exc),
            details={"index": index, "type": action.type},
        )

    def _remaining_ms(self) -> float:
        return max(1.0, (self.deadline - time.monotonic()) * 1000)

    async def _run_one(self, action: Action) -> None:
        ctx = ToolContext(self.session)  # the actions name elements by selector, never by ref
        page = ctx.page
        if isinstance(action, WaitAction):
            if action.milliseconds is not None:
                await page.wait_for_timeout(action.milliseconds)
            else:
                assert action.selector is not None
                await page_actions.wait_for_target(
                    ctx, _first(action.selector), timeout_ms=self._remaining_ms()
                )
        elif isinstance(action, ClickAction):
            await self._click(ctx, action)
        elif isinstance(action, WriteAction | PressAction):
            await self._keys(ctx, action)
        elif isinstance(action, ScrollAction):
            target = await resolve(ctx, _first(action.selector)) if action.selector else None
            sign = -1 if action.direction == "up" else 1
            script = f"() => ({_SCROLL_JS})([null, {sign}])"
            if target is not None:
                script = f"(el) => ({_SCROLL_JS})([el, {sign}])"
            # settle: what the page loads on scroll
            await page_actions.evaluate(ctx, script, target, settle_after=True)
        elif isinstance(action, ScreenshotAction):
            self.screenshots.append(
                await take_screenshot(ctx, action, timeout_ms=self._remaining_ms())
            )
        elif isinstance(action, ScrapeAction):
            self.scrapes.append({"url": page.url, "html": await page.content()})
        elif isinstance(action, ExecuteJavascriptAction):
            self.javascript_returns.append(await self._script(ctx, action.script))
        elif isinstance(action, PdfAction):
            pdf = await page.pdf(
                format=action.format, landscape=action.landscape, scale=action.scale
            )
            self.pdfs.append(_data_url("application/pdf", pdf))

    async def _click(self, ctx: ToolContext, action: ClickAction) -> None:
        if not action.all:
            await act.click(ctx, await resolve(ctx, _first(action.selector)))
            return
        for match in await resolve_all(ctx, SelectorTarget(action.selector, "all")):
            # none: nothing to do, not an error; one no user could click is passed over
            problem = await problem_of(match.element, match.label, pointer=True)
            if problem in _SKIPPED_BY_CLICK_ALL:
                continue
            await act.click(ctx, match)

    async def _keys(self, ctx: ToolContext, action: WriteAction | PressAction) -> None:
        """Send keys to the focused element, checked like any element the tools act on."""
        found = await focused(ctx)
        if isinstance(action, WriteAction):
            if found is None:  # text typed at the document goes nowhere
                raise ToolError(
                    "no element has focus, so the text would go nowhere. Put a click action on "
                    "the field before the write action"
                )
            await act.send_keys(ctx, found, text=action.text, settle_after=False)
        else:
            await act.send_keys(ctx, found, key=action.key)

    async def _script(self, ctx: ToolContext, script: str) -> dict[str, Any]:
        try:
            answer = await page_actions.evaluate(
                ctx, _SCRIPT_WRAPPER.format(script=script), settle_after=True
            )
        except page_actions.ScriptError as exc:
            raise ToolError(f"the script threw {_API_PREFIX.sub('', exc.reason)}") from exc
        raw = answer.get("json")
        return {"type": answer["type"], "value": json.loads(raw) if raw is not None else None}


def _first(selector: str) -> SelectorTarget:
    """A scrape action's selector: its first match, as Firecrawl's actions take it."""
    return SelectorTarget(selector, "first")


async def take_screenshot(
    ctx: ToolContext, options: ScreenshotOptions, *, timeout_ms: float
) -> str:
    """A screenshot of the page as a ``data:`` URL: JPEG with a quality, else PNG."""
    if options.viewport is not None:
        await ctx.page.set_viewport_size(
            {"width": options.viewport.width, "height": options.viewport.height}
        )
    image = await page_actions.screenshot(
        ctx,
        type="jpeg" if options.quality is not None else "png",
        quality=options.quality,
        full_page=options.full_page,
        scale="device",
        timeout_ms=timeout_ms,
    )
    return _data_url(image.mime_type, image.data)


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _advice(action: Action, exc: Exception) -> str:
    """What to change, where the failure alone does not say; "." when it does."""
    if isinstance(action, ClickAction | ScrollAction) and "No element matches" in str(exc):
        return ". Fix the selector, or put a wait action for it first if it appears later."
    if isinstance(action, PressAction) and "Unknown key" in str(exc):
        return ". Use key names such as Enter, Tab, Escape, ArrowDown or Control+A."
    if isinstance(action, PdfAction) and "headless" in str(exc).lower():
        return ". PDFs need headless Chromium: set AGENT_HEADLESS=true."
    return "."
