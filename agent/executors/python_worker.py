"""The warm python worker: a child process that runs Playwright code on one session's browser.

Run as a script (``python -u -P python_worker.py``) by ``agent.executors``; it imports nothing from
the ``agent`` package, so it starts as fast as Playwright does. It attaches over CDP to the one
browser named by ``AGENT_CDP_URL``, says ``{"ready": true}``, then runs each request it reads
(see ``agent.executors.worker``) in a fresh namespace with ``page``, ``context``, ``browser`` and
``playwright`` bound, top-level ``await`` allowed, and the last expression's value as the result.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import linecache
import os
import sys
import traceback
from typing import Any

from playwright.async_api import Browser, Page, Playwright, async_playwright

_FILENAME = "<code>"
_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_PAGE_WAIT_S = 3.0  # a tab the session just opened may take a moment to reach this connection


class _Worker:
    def __init__(self, playwright: Playwright, browser: Browser, answer_fd: int) -> None:
        self.playwright = playwright
        self.browser = browser
        self.answer_fd = answer_fd
        self.result_limit = int(os.environ.get("AGENT_RESULT_LIMIT", "1048576"))
        self._target_ids: dict[Page, str] = {}

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self.answer_fd, view)
            view = view[written:]

    async def find_page(self, target_id: str) -> Page:
        """The page whose CDP target is ``target_id``: the session's current page."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _PAGE_WAIT_S
        while True:
            for page in list(self._target_ids):
                if page.is_closed():
                    del self._target_ids[page]
            for context in self.browser.contexts:
                for page in context.pages:
                    if page not in self._target_ids:
                        session = await context.new_cdp_session(page)
                        info = await session.send("Target.getTargetInfo")
                        await session.detach()
                        self._target_ids[page] = info["targetInfo"]["targetId"]
                    if self._target_ids[page] == target_id:
                        return page
            if loop.time() > deadline:
                raise LookupError(
                    "the session's current page is not visible to the python executor"
                )
            await asyncio.sleep(0.02)

    async def run(self, code: str, target_id: str) -> tuple[int, Any, str | None]:
        """Run ``code``; return its exit code, the last expression's value and, when it failed,
        its error in one line (type and message)."""
        try:
            body, last = _compile(code)
        except SyntaxError as exc:
            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            where = f" (line {exc.lineno})" if exc.lineno else ""
            return 1, None, f"SyntaxError: {exc.msg}{where}"
        page = await self.find_page(target_id)
        await _catch_up(page)
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": __builtins__,
            "asyncio": asyncio,
            "page": page,
            "context": page.context,
            "browser": self.browser,
            "playwright": self.playwright,
        }
        try:
            value = eval(body, namespace)  # running the user's code is the point
            if asyncio.iscoroutine(value):
                await value
            value = None
            if last is not None:
                value = eval(last, namespace)
                if asyncio.iscoroutine(value):
                    value = await value
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                return int(exc.code or 0), None, None
            sys.stderr.write(f"{exc.code}\n")
            return 1, None, _first_line(str(exc.code))
        except BaseException as exc:  # the user's exception, with the traceback of their code
            sys.stderr.write(_user_traceback(exc))
            return 1, None, _summary(exc)
        return 0, value, None

    async def serve(self, requests: asyncio.StreamReader) -> None:
        while line := await requests.readline():
            request = json.loads(line)
            try:
                exit_code, value, error = await self.run(request["code"], request["target_id"])
                result, cut = _render(value, self.result_limit)
            except Exception as exc:  # the worker's own failure (page gone), not the code's
                sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
                exit_code, result, cut, error = 1, "", False, _summary(exc)
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            sentinel = request["sentinel"]
            sys.stdout.write(sentinel)
            sys.stdout.flush()
            sys.stderr.write(sentinel)
            sys.stderr.flush()
            self.send(
                {"exit_code": exit_code, "result": result, "result_truncated": cut, "error": error}
            )


async def _catch_up(page: Page) -> None:
    """Let this connection see a navigation the session just made before the code runs.

    Events reach each CDP client on its own connection; one evaluate on the page (retried when
    it met the old document) is answered only after this connection has seen the new one.
    """
    for _ in range(20):
        try:
            await asyncio.wait_for(page.evaluate("0"), 1.0)
            return
        except TimeoutError:
            return  # a busy page: the code may be meant to deal with it
        except Exception as exc:
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                return
            await asyncio.sleep(0.01)


def _compile(code: str) -> tuple[Any, Any]:
    """Compile ``code`` as a body and, when it ends with an expression, that expression apart."""
    linecache.cache[_FILENAME] = (len(code), None, code.splitlines(True), _FILENAME)
    tree = compile(code, _FILENAME, "exec", flags=_FLAGS | ast.PyCF_ONLY_AST)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        expression = ast.Expression(tree.body.pop().value)
        last = compile(expression, _FILENAME, "eval", flags=_FLAGS)
    body = compile(tree, _FILENAME, "exec", flags=_FLAGS)
    return body, last


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code down, without this worker's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _summary(exc: BaseException) -> str:
    """The error in one line: its type's name and the first line of its message (Playwright's
    messages go on with a call log)."""
    message = _first_line(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _render(value: Any, limit: int) -> tuple[str, bool]:
    """The result as text: str as is, None as "", JSON when it can be, repr otherwise."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text.encode()) > limit:
        return text.encode()[:limit].decode(errors="ignore"), True
    return text, False


async def _main() -> int:
    request_fd = int(os.environ.pop("AGENT_REQUEST_FD"))
    answer_fd = int(os.environ.pop("AGENT_RESPONSE_FD"))
    for fd in (request_fd, answer_fd):
        os.set_inheritable(fd, False)  # not for subprocesses the user's code starts
    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.connect_over_cdp(os.environ["AGENT_CDP_URL"])
    except Exception as exc:
        message = {"ready": False, "error": f"could not attach to the browser: {exc}"}
        os.write(answer_fd, (json.dumps(message) + "\n").encode())
        return 1
    worker = _Worker(playwright, browser, answer_fd)
    loop = asyncio.get_running_loop()
    requests = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(requests), os.fdopen(request_fd, "rb", buffering=0)
    )
    worker.send({"ready": True})
    await worker.serve(requests)
    return 0  # the parent closed the request pipe: the session is closing


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
