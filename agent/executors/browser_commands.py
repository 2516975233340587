"""What each ``agent browser`` command does, run in the session's own process.

The commands are declared once, in ``agent.executors.browser_cli.COMMANDS``; each is handled
here by the ``BrowserCommands`` method ``cmd_<name>``, and importing this module fails if the two
disagree. A target is a ref from the session's snapshots (``@e3``, ``e3``, ``ref=e3``) or a CSS
selector; a ref goes through the planner's own tool (click, fill, type, press, scroll, select,
check, hover, wait, open, back, snapshot), a selector through the same element checks, so a
script and the planner share one page, one set of refs and one wording of errors. Every failure
the script can act on is a ``ToolError`` whose message becomes the command's one-line reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.browser.grammar import compact, is_ref
from agent.errors import ToolError, first_line
from agent.executors.browser_cli import COMMANDS as DECLARED
from tools import ToolBox, ToolContext, default_toolbox
from tools.actions import choose_options
from tools.elements import act_on, settle
from tools.find import Description, Landmark, locate_all

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Page

    from agent.browser.session import BrowserSession
    from agent.browser.snapshot import Snapshot

__all__ = ["HANDLERS", "BrowserCommands"]

_FIND_ACTIONS = (
    "click", "dblclick", "fill", "type", "check", "uncheck", "hover", "text", "select", "focus"
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


def _typing(text: str) -> Callable[[Locator | ElementHandle], Awaitable[None]]:
    """Type ``text`` key by key into an element, after what it holds."""

    async def typing(element: Locator | ElementHandle) -> None:
        if isinstance(element, Locator):
            await element.press_sequentially(text)
        else:
            await element.type(text)

    return typing


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
        try:
            return await handler(self, session, args)
        except PlaywrightTimeoutError as exc:
            raise ToolError(f"timed out: {first_line(exc)}") from exc
        except PlaywrightError as exc:
            raise ToolError(first_line(exc)) from exc

    # -- shared pieces ---------------------------------------------------------------------------

    def _context(self, session: BrowserSession) -> ToolContext:
        return ToolContext(session, last_snapshot=self._last_snapshot)

    async def _tool(self, session: BrowserSession, name: str, args: dict[str, Any]) -> str:
        ctx = self._context(session)
        outcome = await self.toolbox.call(ctx, name, args)
        self._last_snapshot = ctx.last_snapshot
        if outcome.is_error:
            raise ToolError(outcome.content)
        return outcome.content

    async def _act(
        self,
        session: BrowserSession,
        target: str,
        tool: str,
        tool_args: dict[str, Any],
        action: Callable[[Locator | ElementHandle], Awaitable[Any]],
        done: str,
        *,
        pointer: bool = True,
    ) -> str:
        """A ref goes through the planner's tool; a CSS selector through the same checks."""
        if is_ref(target):
            return await self._tool(session, tool, {"ref": target, **tool_args})
        element = await session.locate(target)
        await act_on(session, element, target, action, pointer=pointer)
        return done

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

    async def cmd_open(self, session: BrowserSession, args: dict[str, Any]) -> str:
        return await self._tool(session, "navigate", {"url": args["url"]})

    async def cmd_back(self, session: BrowserSession, args: dict[str, Any]) -> str:
        return await self._tool(session, "go_back", {})

    async def cmd_forward(self, session: BrowserSession, args: dict[str, Any]) -> str:
        page = session.page
        before = page.url
        # "commit", then settle: a page restored from the back-forward cache fires no load event.
        await page.go_forward(wait_until="commit")
        if page.url == before:
            raise ToolError("There is no next page in this tab's history.")
        await settle(session)
        return f"went forward to {page.url}"

    async def cmd_reload(self, session: BrowserSession, args: dict[str, Any]) -> str:
        await session.page.reload()
        await settle(session)
        return f"reloaded {session.page.url}"

    async def cmd_snapshot(self, session: BrowserSession, args: dict[str, Any]) -> str:
        depth = args.get("depth")
        if depth is not None and depth < 0:
            raise ToolError("-d takes a depth of 0 or more.")
        ctx = self._context(session)
        shot = await ctx.snapshot(
            mode="interactive" if args.get("interactive") else "full",
            scope=args.get("selector"),
            max_depth=depth,
        )
        self._last_snapshot = shot
        text = compact(shot.text) if args.get("compact") else shot.text
        return text or "(nothing to show on this page)"

    async def cmd_click(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target = args["target"]
        return await self._act(
            session, target, "click", {}, lambda t: t.click(), f"clicked {target}"
        )

    async def cmd_dblclick(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target = args["target"]
        return await self._act(
            session, target, "dblclick", {}, lambda t: t.dblclick(), f"double-clicked {target}"
        )

    async def cmd_hover(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target = args["target"]
        return await self._act(
            session, target, "hover", {}, lambda t: t.hover(), f"hovered {target}"
        )

    async def cmd_fill(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target, text = args["target"], args["text"]
        return await self._act(
            session,
            target,
            "fill",
            {"value": text},
            lambda t: t.fill(text),
            f"filled {target} with {text!r}",
            pointer=False,
        )

    async def cmd_type(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target, text = args["target"], args["text"]
        return await self._act(
            session,
            target,
            "type",
            {"text": text},
            _typing(text),
            f"typed {text!r} into {target}",
            pointer=False,
        )

    async def cmd_select(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target, values = args["target"], list(args["values"])
        return await self._act(
            session,
            target,
            "select_option",
            {"values": values},
            lambda t: t.select_option(values),
            f"selected {', '.join(map(repr, values))} in {target}",
            pointer=False,
        )

    async def cmd_check(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target = args["target"]
        return await self._act(
            session, target, "check", {}, lambda t: t.set_checked(True), f"checked {target}"
        )

    async def cmd_uncheck(self, session: BrowserSession, args: dict[str, Any]) -> str:
        target = args["target"]
        return await self._act(
            session, target, "uncheck", {}, lambda t: t.set_checked(False), f"unchecked {target}"
        )

    async def cmd_press(self, session: BrowserSession, args: dict[str, Any]) -> str:
        key, target = args["key"], args.get("target")
        if target is None or is_ref(target):
            return await self._tool(session, "press", {"key": key, "ref": target})
        element = await session.locate(target)
        await act_on(session, element, target, lambda t: t.press(key), pointer=False)
        return f"pressed {key} on {target}"

    async def cmd_scroll(self, session: BrowserSession, args: dict[str, Any]) -> str:
        direction, pixels, target = args["direction"], args.get("pixels"), args.get("selector")
        if target is None or is_ref(target):
            return await self._tool(
                session, "scroll", {"direction": direction, "amount": pixels, "ref": target}
            )
        locator = await session.locate(target)
        step = pixels if pixels is not None else 400
        dx = {"left": -step, "right": step}.get(direction, 0)
        dy = {"up": -step, "down": step}.get(direction, 0)
        await locator.evaluate("(el, [dx, dy]) => el.scrollBy(dx, dy)", [dx, dy])
        return f"scrolled {target} {direction} by {step}px"

    async def cmd_scrollintoview(self, session: BrowserSession, args: dict[str, Any]) -> str:
        element = await session.locate(args["target"])
        await element.scroll_into_view_if_needed()
        return f"scrolled {args['target']} into view"

    async def cmd_get(self, session: BrowserSession, args: dict[str, Any]) -> str:
        what, target = args["what"], args.get("target")
        page = session.page
        if what == "title":
            return await page.title()
        if what == "url":
            return page.url
        if what == "count":
            if not target:
                raise ToolError("get count needs a CSS selector or a ref.")
            if is_ref(target):
                await session.resolve(target)
                return "1"
            try:
                return str(await page.locator(target).count())
            except PlaywrightError as exc:
                raise ToolError(f"{target!r} is not a valid selector: {first_line(exc)}") from exc
        if what in ("text", "html") and not target:
            return await (page.inner_text("body") if what == "text" else page.content())
        if not target:
            raise ToolError(f"get {what} needs a target: a ref like @e3 or a CSS selector.")
        element = await session.locate(target)
        if what == "text":
            return await element.inner_text()
        if what == "html":
            return await element.inner_html()
        if what == "value":
            return await element.input_value()
        if what == "attr":
            name = args.get("name")
            if not name:
                raise ToolError("get attr needs an attribute name: get attr @e3 href")
            return await element.get_attribute(name) or ""
        raise ToolError(f"get {what!r}: use text, html, value, attr, title, url or count.")

    async def cmd_is(self, session: BrowserSession, args: dict[str, Any]) -> str:
        what, target = args["what"], args["target"]
        if what == "visible" and not is_ref(target):
            locator = session.page.locator(target)
            return "true" if await locator.count() and await locator.first.is_visible() else "false"
        element = await session.locate(target)
        checks = {
            "visible": element.is_visible,
            "enabled": element.is_enabled,
            "checked": element.is_checked,
        }
        if what not in checks:
            raise ToolError(f"is {what!r}: use visible, enabled or checked.")
        return "true" if await checks[what]() else "false"

    async def cmd_find(self, session: BrowserSession, args: dict[str, Any]) -> str:
        by, value, action = args["by"], args["value"], args["action"]
        text, name, exact = args.get("text"), args.get("name"), bool(args.get("exact"))
        page = session.page
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
        nth, within = args.get("nth"), args.get("within")
        try:
            if nth is not None or within:
                all_matches = _described_matches(page, by, value, name, exact, args)
                described += f" in {within}" if within else ""
            else:
                all_matches = locators[by]()
            count = await all_matches.count()
        except PlaywrightError as exc:
            raise ToolError(f"find {described}: {first_line(exc)}") from exc
        if count == 0:
            raise ToolError(f"no element found by {described}.")
        if nth is not None and not 0 <= nth < count:
            raise ToolError(f"find {described} --nth {nth}: there are {count} (0 to {count - 1}).")
        locator = all_matches.nth(nth) if nth is not None else all_matches.first
        if action == "text":
            return await locator.inner_text()
        if action in ("fill", "type", "select") and text is None:
            raise ToolError(f"find ... {action} needs the text to enter.")
        if action == "focus":
            await locator.focus()
            return f"focus: {described}"
        if action == "select":
            chosen = await choose_options(locator, described, (text or "").split(","))
            await act_on(session, locator, described,
                         lambda t: t.select_option(value=chosen), pointer=False)  # fmt: skip
            return f"select: {described}"
        actions: dict[str, tuple[Callable[[Locator | ElementHandle], Awaitable[Any]], bool]] = {
            "click": (lambda t: t.click(), True),
            "dblclick": (lambda t: t.dblclick(), True),
            "hover": (lambda t: t.hover(), True),
            "check": (lambda t: t.set_checked(True), True),
            "uncheck": (lambda t: t.set_checked(False), True),
            "fill": (lambda t: t.fill(text or ""), False),
            "type": (_typing(text or ""), False),
        }
        run, pointer = actions[action]
        await act_on(session, locator, described, run, pointer=pointer)
        more = f" (first of {count})" if count > 1 else ""
        return f"{action}: {described}{more}"

    async def cmd_wait(self, session: BrowserSession, args: dict[str, Any]) -> str:
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
        if target or text or load:
            if target and not is_ref(target):
                await session.page.locator(target).first.wait_for(
                    state="visible", timeout=timeout_ms
                )
                done.append(f"{target} is visible")
                target = None
            if target or text or load:
                done.append(
                    await self._tool(
                        session,
                        "wait_for",
                        {
                            "ref": target,
                            "text": text,
                            "load_state": load,
                            "timeout_s": timeout_ms / 1000,
                        },
                    )
                )
        if url:
            pattern = url if "*" in url else (lambda u: url in u)
            try:
                await session.page.wait_for_url(pattern, timeout=timeout_ms)
            except PlaywrightTimeoutError as exc:
                raise ToolError(
                    f"Waited {timeout_ms / 1000:.1f} s for the URL to match {url!r}; it is "
                    f"{session.page.url}."
                ) from exc
            done.append(f"url is {session.page.url}")
        return "; ".join(done)

    async def cmd_eval(self, session: BrowserSession, args: dict[str, Any]) -> str:
        try:
            value = await session.page.evaluate(args["script"])
        except PlaywrightError as exc:
            raise ToolError(f"JavaScript failed: {first_line(exc)}") from exc
        return _as_text(value)

    async def cmd_screenshot(self, session: BrowserSession, args: dict[str, Any]) -> str:
        path = args.get("path")
        if path:
            target = Path(path)
            if not target.is_absolute():
                target = self.workdir / target
        else:
            self._screenshots += 1
            target = self.workdir / f"screenshot-{self._screenshots}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        await session.page.screenshot(path=str(target), full_page=bool(args.get("full")))
        return str(target)

    async def cmd_tab(self, session: BrowserSession, args: dict[str, Any]) -> str:
        action, arg = args.get("action") or "list", args.get("arg")
        tabs = self._tabs(session)
        current = session.page
        if action == "list":
            lines = []
            for tab_id, page in tabs:
                mark = "*" if page is current else " "
                lines.append(f"{mark} {tab_id} {await page.title()!r} {page.url}")
            return "\n".join(lines)
        if action == "new":
            page = await session.new_tab()
            tab_id = self._tab_id(page)
            if arg:
                opened = await self._tool(session, "navigate", {"url": arg})
                return f"opened tab {tab_id}: {opened}"
            return f"opened tab {tab_id}"
        if action == "close":
            page = self._find_tab(tabs, arg) if arg else current
            if len(tabs) == 1:
                raise ToolError("This is the only tab; open another before closing it.")
            tab_id = self._tab_id(page)
            await page.close()
            return f"closed tab {tab_id}; the current tab is {self._tab_id(session.page)}"
        page = self._find_tab(tabs, action)
        session.switch_to(page)
        await page.bring_to_front()
        return f"switched to tab {self._tab_id(page)}: {page.url}"

    @staticmethod
    def _find_tab(tabs: list[tuple[str, Page]], wanted: str) -> Page:
        for tab_id, page in tabs:
            if tab_id == wanted:
                return page
        known = ", ".join(tab_id for tab_id, _ in tabs)
        raise ToolError(f"there is no tab {wanted!r}; open tabs: {known} (see `tab list`).")


_Handler = Callable[[BrowserCommands, "BrowserSession", dict[str, Any]], Awaitable[str]]


def _bind_handlers() -> dict[str, _Handler]:
    """Each declared command's handler; a declared command without one, or a handler nobody
    declared, is a bug in this module, caught at import rather than by a user."""
    handlers = {
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
    return locate_all(page, Description(by, value, name or "", landmark))  # type: ignore[arg-type]
