"""What each ``agent browser`` command does, run in the session's own process.

The commands are declared once, in ``agent.executors.browser_cli.COMMANDS``; each is handled
here by the ``BrowserCommands`` method ``cmd_<name>``, and importing this module fails if the two
disagree. A target is a ref from the session's snapshots (``@e3``, ``e3``, ``ref=e3``) or a CSS
selector, of which the first match is meant, as in agent-browser (``tools.targets``). The
handlers only translate arguments: every action is the one the planner and MCP run
(``tools.element_actions``, ``tools.page_actions``, the planner's own tools for open, back and
wait), so a script and the planner share one page, one set of refs and one wording of results
and errors. Every failure the script can act on is a ``ToolError`` whose message becomes the
command's one-line reason; a Playwright error no action foresaw goes through the tools' one
fallback (``tools.base.guarded``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.browser.grammar import compact, is_ref
from agent.errors import ToolError, first_line
from agent.executors.browser_cli import COMMANDS as DECLARED
from tools import SHARED_TOOLS, ToolBox, ToolContext, default_toolbox, page_actions
from tools import element_actions as act
from tools.base import Tool, call_tool, guarded
from tools.find import Description, FrameStep, Landmark, locate_all
from tools.navigation import scroll_by
from tools.reading import element_state, read_page, read_property
from tools.targets import Found, SelectorTarget, count_matches, found_by, parse_target

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

    from agent.browser.session import BrowserSession
    from agent.browser.snapshot import Snapshot

__all__ = ["HANDLERS", "BrowserCommands"]

_FIND_ACTIONS = (
    "click", "dblclick", "fill", "type", "check", "uncheck", "hover", "text", "select", "focus",
    "scroll", "wait",
)  # fmt: skip
MAX_WAIT_MS = 300_000


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class BrowserCommands:
    """Runs ``agent browser`` commands on one session; keeps its tab ids and the last snapshot
    its commands showed (so ``click @e3`` reports the element as that snapshot named it)."""

    def __init__(self, workdir: Path, toolbox: ToolBox | None = None) -> None:
        self.workdir = workdir
        self.toolbox = toolbox or default_toolbox()
        self._last_snapshot: Snapshot | None = None
        self._tab_ids: dict[Page, str] = {}
        self._next_tab = 1
        self._screenshots = 0

    async def run(self, session: BrowserSession, command: str, args: dict[str, Any]) -> str:
        """Run one command; raise ``ToolError`` with a one-line reason when it cannot."""
        handler = HANDLERS.get(command)
        if handler is None:
            raise ToolError(f"unknown command {command!r}; known: {', '.join(sorted(HANDLERS))}")
        ctx = self._context(session)
        try:
            outcome = await guarded(ctx, command, lambda: handler(self, ctx, args))
        finally:
            self._last_snapshot = ctx.last_snapshot
        if outcome.is_error:
            raise ToolError(outcome.failure or outcome.content)
        return outcome.content

    # -- shared pieces ---------------------------------------------------------------------------

    def _context(self, session: BrowserSession) -> ToolContext:
        # A selector names its first match, as agent-browser's do.
        return ToolContext(session, last_snapshot=self._last_snapshot, selectors="first")

    async def _tool(self, ctx: ToolContext, name: str, args: dict[str, Any]) -> str:
        outcome = await self.toolbox.call(ctx, name, args)
        if outcome.is_error:
            raise ToolError(outcome.failure or outcome.content)
        return outcome.content

    @staticmethod
    async def _found(ctx: ToolContext, target: str) -> Found:
        """A ref, or the first match of a CSS selector (as agent-browser does), named in results
        as it was written (``clicked #go``)."""
        return await found_by(ctx, target)

    def _tab_id(self, page: Page) -> str:
        if page not in self._tab_ids:
            self._tab_ids[page] = f"t{self._next_tab}"
            self._next_tab += 1
        return self._tab_ids[page]

    def _tabs(self, session: BrowserSession) -> list[tuple[str, Page]]:
        pages = session.tabs
        for page in list(self._tab_ids):
            if page.is_closed():
                del self._tab_ids[page]
        return [(self._tab_id(p), p) for p in pages]

    # -- commands, one per entry of browser_cli.COMMANDS -----------------------------------------

    async def cmd_open(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return await self._tool(ctx, "navigate", {"url": args["url"]})

    async def cmd_back(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return await self._tool(ctx, "go_back", {})

    async def cmd_forward(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return await page_actions.go_forward(ctx)

    async def cmd_reload(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return await page_actions.reload(ctx)

    async def cmd_snapshot(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        depth = args.get("depth")
        if depth is not None and depth < 0:
            raise ToolError("-d takes a depth of 0 or more.")
        shot = await ctx.snapshot(
            mode="interactive" if args.get("interactive") else "full",
            scope=args.get("selector"),
            max_depth=depth,
        )
        text = compact(shot.text) if args.get("compact") else shot.text
        return text or "(nothing to show on this page)"

    async def cmd_click(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return (await act.click(ctx, await self._found(ctx, args["target"]))).content

    async def cmd_dblclick(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        found = await self._found(ctx, args["target"])
        return (await act.click(ctx, found, double=True)).content

    async def cmd_hover(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return (await act.hover(ctx, await self._found(ctx, args["target"]))).content

    async def cmd_fill(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        found = await self._found(ctx, args["target"])
        return (await act.fill(ctx, found, args["text"])).content

    async def cmd_type(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        found = await self._found(ctx, args["target"])
        return (await act.type_into(ctx, found, args["text"])).content

    async def cmd_select(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        found = await self._found(ctx, args["target"])
        return (await act.select(ctx, found, list(args["values"]))).content

    async def cmd_check(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        found = await self._found(ctx, args["target"])
        return (await act.set_checked(ctx, found, True)).content

    async def cmd_uncheck(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        found = await self._found(ctx, args["target"])
        return (await act.set_checked(ctx, found, False)).content

    async def cmd_press(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        target = args.get("target")
        found = await self._found(ctx, target) if target else None
        return (await act.press(ctx, args["key"], found)).content

    async def cmd_scroll(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        target = args.get("selector")
        found = await self._found(ctx, target) if target else None
        return await scroll_by(ctx, args["direction"], args.get("pixels"), found)

    async def cmd_scrollintoview(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        return (await act.scroll_into_view(ctx, await self._found(ctx, args["target"]))).content

    async def cmd_get(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        what, target = args["what"], args.get("target")
        page = ctx.page
        if what == "title":
            return await page.title()
        if what == "url":
            return page.url
        if what == "count":
            if not target:
                raise ToolError("get count needs a CSS selector or a ref.")
            return str(await count_matches(ctx, parse_target(target)))
        if what in ("text", "html") and not target:
            return await read_page(ctx, what)
        if not target:
            raise ToolError(f"get {what} needs a target: a ref like @e3 or a CSS selector.")
        return await read_property(await self._found(ctx, target), what, args.get("name"))

    async def cmd_is(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        what, target = args["what"], args["target"]
        if what == "visible" and not await count_matches(ctx, parse_target(target)):
            return "false"  # nothing to see is not an error
        state = await element_state(await self._found(ctx, target), what)
        return "true" if state else "false"

    async def cmd_find(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        by, value, action = args["by"], args["value"], args["action"]
        text, name, exact = args.get("text"), args.get("name"), bool(args.get("exact"))
        page = ctx.page
        locators: dict[str, Callable[[], Locator]] = {
            "role": lambda: page.get_by_role(value, name=name, exact=exact),
            "text": lambda: page.get_by_text(value, exact=exact),
            "label": lambda: page.get_by_label(value, exact=exact),
            "placeholder": lambda: page.get_by_placeholder(value, exact=exact),
            "alt": lambda: page.get_by_alt_text(value, exact=exact),
            "title": lambda: page.get_by_title(value, exact=exact),
            "testid": lambda: page.get_by_test_id(value),
        }
        if by not in locators:
            raise ToolError(f"find {by!r}: use one of {', '.join(locators)}.")
        if action not in _FIND_ACTIONS:
            raise ToolError(
                f"find ... {action!r}: the action is one of {', '.join(_FIND_ACTIONS)}."
            )
        described = f"{by} {value!r}" + (f" named {name!r}" if name else "")
        nth, within, frames = args.get("nth"), args.get("within"), _frames(args)
        try:
            if nth is not None or within or frames:
                all_matches = _described_matches(page, by, value, name, exact, args)
                described += f" in {within}" if within else ""
                described += "".join(f" in {frame.label()}" for frame in reversed(frames))
            else:
                all_matches = locators[by]()
            count = await all_matches.count()
        except PlaywrightError as exc:
            raise ToolError(f"find {described}: {first_line(exc)}") from exc
        if count == 0:
            raise ToolError(f"no element found by {described}.")
        if nth is not None and not 0 <= nth < count:
            raise ToolError(f"find {described} --nth {nth}: there are {count} (0 to {count - 1}).")
        found = Found(all_matches.nth(nth) if nth is not None else all_matches.first, described)
        if action == "text":
            return await read_property(found, "text")
        if action == "scroll":
            return await _scroll_found(ctx, found, text)
        if action == "wait":
            await page_actions.wait_visible(found.element, timeout_ms=10_000)
            return f"wait: {described} is visible"
        if action in ("fill", "type", "select") and text is None:
            raise ToolError(f"find ... {action} needs the text to enter.")
        actions: dict[str, Callable[[], Awaitable[Any]]] = {
            **act.argument_free(ctx, found),
            "fill": lambda: act.fill(ctx, found, text or ""),
            "type": lambda: act.type_into(ctx, found, text or ""),
            "select": lambda: act.select(ctx, found, (text or "").split(",")),
            "focus": lambda: act.focus(ctx, found),
        }
        await actions[action]()
        more = f" (first of {count})" if count > 1 else ""
        return f"{action}: {described}{more}"

    async def cmd_wait(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        target, text, url, load = (args.get(k) for k in ("target", "text", "url", "load"))
        timeout_ms = float(args.get("timeout") or 10_000)
        if target and target.isdigit():
            await asyncio.sleep(min(int(target), MAX_WAIT_MS) / 1000)
            return f"waited {int(target)} ms"
        if not (target or text or url or load):
            raise ToolError(
                "wait needs a ref, a CSS selector, milliseconds, --text, --url or --load."
            )
        done: list[str] = []
        if target and not is_ref(target):
            wanted = SelectorTarget(target, "first")
            await page_actions.wait_for_target(ctx, wanted, timeout_ms=timeout_ms)
            done.append(f"{target} is visible")
            target = None
        if target or text or load:
            wait_args = {"ref": target, "text": text, "load_state": load}
            done.append(
                await self._tool(ctx, "wait_for", {**wait_args, "timeout_s": timeout_ms / 1000})
            )
        if url:
            pattern = url if "*" in url else (lambda u: url in u)
            try:
                await ctx.page.wait_for_url(pattern, timeout=timeout_ms)
            except PlaywrightTimeoutError as exc:
                raise ToolError(
                    f"Waited {timeout_ms / 1000:.1f} s for the URL to match {url!r}; it is "
                    f"{ctx.page.url}."
                ) from exc
            done.append(f"url is {ctx.page.url}")
        return "; ".join(done)

    async def cmd_eval(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        try:
            value = await page_actions.evaluate(ctx, args["script"])
        except page_actions.ScriptError as exc:
            raise ToolError(f"JavaScript failed: {exc.reason}") from exc
        return _as_text(value)

    async def cmd_screenshot(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        path = args.get("path")
        if path:
            target = Path(path)
            if not target.is_absolute():
                target = self.workdir / target
        else:
            self._screenshots += 1
            target = self.workdir / f"screenshot-{self._screenshots}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        await page_actions.screenshot(
            ctx, full_page=bool(args.get("full")), scale="device", path=str(target)
        )
        return str(target)

    async def cmd_tab(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        action, arg = args.get("action") or "list", args.get("arg")
        session = ctx.session
        tabs = self._tabs(session)
        current = session.page
        if action == "list":
            lines = []
            for tab_id, page in tabs:
                mark = "*" if page is current else " "
                lines.append(f"{mark} {tab_id} {await page.title()!r} {page.url}")
            return "\n".join(lines)
        if action == "new":
            tab_id = self._tab_id(await page_actions.new_tab(ctx))
            if arg:
                opened = await self._tool(ctx, "navigate", {"url": arg})
                return f"opened tab {tab_id}: {opened}"
            return f"opened tab {tab_id}"
        if action == "close":
            page = self._find_tab(tabs, arg) if arg else current
            tab_id = self._tab_id(page)
            await page_actions.close_tab(ctx, page, keep_one=False)
            return f"closed tab {tab_id}; the current tab is {self._tab_id(session.page)}"
        page = self._find_tab(tabs, action)
        await page_actions.select_tab(ctx, page)
        return f"switched to tab {self._tab_id(page)}: {page.url}"

    @staticmethod
    def _find_tab(tabs: list[tuple[str, Page]], wanted: str) -> Page:
        for tab_id, page in tabs:
            if tab_id == wanted:
                return page
        known = ", ".join(tab_id for tab_id, _ in tabs)
        raise ToolError(f"there is no tab {wanted!r}; open tabs: {known} (see `tab list`).")


_Handler = Callable[[BrowserCommands, ToolContext, dict[str, Any]], Awaitable[str]]


def _shared(selected: Tool) -> _Handler:
    """A command that runs ``selected`` (a tool of ``tools.SHARED_TOOLS``) with the arguments
    its ``COMMANDS`` row parsed, named as the tool's parameters."""

    async def handler(_: BrowserCommands, ctx: ToolContext, args: dict[str, Any]) -> str:
        given = {name: value for name, value in args.items() if value is not None}
        outcome = await call_tool(selected, ctx, given)
        if outcome.is_error:
            raise ToolError(outcome.failure or outcome.content)
        return outcome.content

    return handler


def _bind_handlers() -> dict[str, _Handler]:
    """Each declared command's handler: its ``cmd_`` method, or the shared tool of its name. A
    declared command without one, or a handler nobody declared, is a bug in this module,
    caught at import rather than by a user."""
    handlers: dict[str, _Handler] = {t.name: _shared(t) for t in SHARED_TOOLS}
    handlers |= {
        name.removeprefix("cmd_"): getattr(BrowserCommands, name)
        for name in dir(BrowserCommands)
        if name.startswith("cmd_")
    }
    declared = {command.name for command in DECLARED}
    if set(handlers) != declared:
        raise RuntimeError(
            "agent browser commands and their handlers differ: declared without a handler "
            f"{sorted(declared - set(handlers))}, handlers never declared "
            f"{sorted(set(handlers) - declared)}"
        )
    return handlers


HANDLERS: dict[str, _Handler] = _bind_handlers()


def _described_matches(
    page: Page, by: str, value: str, name: str | None, exact: bool, args: dict[str, Any]
) -> Locator:
    """``find`` with ``--within`` or ``--nth``: the matches of a description (exact names)."""
    if by not in ("role", "label", "placeholder", "text") or not exact:
        raise ToolError("--within and --nth take role, label, placeholder or text, with --exact.")
    within = args.get("within")
    landmark = Landmark(within, args.get("within_name") or "") if within else None
    frames = _frames(args)
    return locate_all(page, Description(by, value, name or "", landmark, frames=frames))  # type: ignore[arg-type]


def _frames(args: dict[str, Any]) -> tuple[FrameStep, ...]:
    """``--frame`` titles, each at its ``--frame-nth`` position (0 when not given)."""
    titles: list[str] = list(args.get("frame") or ())
    positions: list[int] = list(args.get("frame_nth") or ())
    if len(positions) > len(titles):
        raise ToolError("find: give one --frame-nth per --frame, in the same order.")
    positions += [0] * (len(titles) - len(positions))
    # The position is checked when found: a description with ``among`` 1 asks for one match,
    # which ``--frame-nth`` relaxes, as ``--nth`` does for the element itself.
    return tuple(FrameStep(title, nth) for title, nth in zip(titles, positions, strict=True))


async def _scroll_found(ctx: ToolContext, found: Found, text: str | None) -> str:
    """``find ... scroll 'down 500'``: scroll the element (a region), or it into view."""
    words = (text or "down").split()
    direction = words[0] if words else "down"
    if direction not in ("down", "up", "left", "right") or len(words) > 2:
        raise ToolError("find ... scroll takes a direction (down, up, left, right) and pixels.")
    if len(words) == 2 and not words[1].isdigit():
        raise ToolError(f"find ... scroll {direction} {words[1]!r}: pixels are a whole number.")
    amount = int(words[1]) if len(words) == 2 else None
    return await scroll_by(ctx, direction, amount, found)  # type: ignore[arg-type]
