"""The Python API: open a page in a private browser, then interact with it by prompt.

::

    async with await Agent.open("https://example.com", model="openai:gpt-4.1-mini") as agent:
        r = await agent.interact("What is the page's main heading?")
        print(r.output, r.result)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from agent.browser.session import BrowserSession
from agent.config import Settings, load_settings
from agent.errors import BrowserError, ConfigError, first_line
from agent.loop import StepCallback, run_prompt
from agent.models.base import Model, create_model
from agent.prompt_cache import run_cached_prompt
from agent.recipes import RecipeStore, open_recipe_store

if TYPE_CHECKING:
    from playwright.async_api import Page

    from agent.browser.snapshot import Snapshot, SnapshotMode
    from agent.results import InteractionResult
    from tools.base import ToolBox

__all__ = ["Agent"]


class Agent:
    """A browser session and the model that plans on it.

    Create one with ``await Agent.open(url, model=...)``; close it with ``await agent.close()``
    or ``async with``.
    """

    def __init__(
        self,
        session: BrowserSession,
        model: Model,
        *,
        settings: Settings,
        toolbox: ToolBox | None = None,
        recipes: RecipeStore | None = None,
    ) -> None:
        self.session = session
        self.model = model
        self.settings = settings
        self.toolbox = toolbox
        self._recipes = recipes

    @property
    def recipes(self) -> RecipeStore:
        """The prompt cache's store: SQLite in ``settings.data_dir`` unless one was given."""
        if self._recipes is None:
            self._recipes = open_recipe_store(
                None, self.settings.data_dir, ttl_s=self.settings.prompt_cache_ttl
            )
        return self._recipes

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        model: str | Model | None = None,
        settings: Settings | None = None,
        toolbox: ToolBox | None = None,
    ) -> Agent:
        """Start a private Chromium, open ``url`` in it (if given) and pair it with a model.

        Args:
            url: the page to open; None leaves the browser on a blank page.
            model: a model id (``"openai:gpt-4.1-mini"``), a ``Model`` object (for example
                ``ScriptedModel``), or None for ``settings.model``.
            settings: limits, browser and model configuration; from the environment when None.
            toolbox: the tools the planner offers; every browser tool when None.

        Raises:
            ConfigError: no model is configured, or its provider or key is wrong.
            BrowserError: Chromium could not be found or started, or ``url`` did not load.
        """
        settings = settings if settings is not None else load_settings()
        # Resolve the model first: a missing key should fail before a browser is launched.
        if model is None:
            model = settings.require_model()
        planner = create_model(model, settings=settings) if isinstance(model, str) else model
        session = await BrowserSession.start(
            executable=str(settings.browser_path) if settings.browser_path else None,
            headless=settings.headless,
            action_timeout_s=settings.action_timeout,
            navigation_timeout_s=settings.navigation_timeout,
        )
        agent = cls(session, planner, settings=settings, toolbox=toolbox)
        if url is not None:
            try:
                await agent.goto(url)
            except BaseException:
                await session.close()
                raise
        return agent

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def page(self) -> Page:
        """The Playwright page prompts act on (a tab the page opens becomes the current one)."""
        return self.session.page

    async def goto(self, url: str) -> int | None:
        """Open ``url`` in the current tab; return the HTTP status of the document, if any.

        Raises:
            BrowserError: the page did not load (unreachable host, timeout).
        """
        async with self.session.lock:
            try:
                return await self.session.goto(url)
            except PlaywrightError as exc:
                reason = first_line(exc)
                raise BrowserError(
                    f"Could not open {url}: {reason}. Check that the URL is right and the site "
                    "is reachable from this machine."
                ) from exc

    async def interact(
        self,
        prompt: str,
        *,
        max_steps: int | None = None,
        timeout_s: float | None = None,
        on_step: StepCallback | None = None,
        cache: bool | None = None,
    ) -> InteractionResult:
        """Carry out ``prompt`` on the current page; ``output`` is the answer, ``result`` the
        snapshot it was based on.

        Args:
            prompt: the task, in natural language.
            max_steps: planner steps for this prompt; ``settings.max_steps`` when None.
            timeout_s: wall-clock limit for this prompt; none when None.
            on_step: called with each step as it finishes.
            cache: replay from the prompt cache when it holds this prompt for this page, and
                store the recipe of a successful run (``result.cache`` says what happened);
                None: ``settings.prompt_cache`` decides. ``result.script`` is the recipe as
                agent-browser commands either way.
        """
        settings = self.settings
        if max_steps is not None:
            if max_steps < 1:
                raise ConfigError(f"max_steps must be at least 1, got {max_steps}.")
            settings = settings.model_copy(update={"max_steps": max_steps})
        if cache if cache is not None else settings.prompt_cache:
            return await run_cached_prompt(
                self.session,
                prompt,
                model=self.model,
                store=self.recipes,
                settings=settings,
                toolbox=self.toolbox,
                on_step=on_step,
                timeout_s=timeout_s,
                redact=settings.redact_pattern,
            )
        return await run_prompt(
            self.session,
            prompt,
            model=self.model,
            settings=settings,
            toolbox=self.toolbox,
            on_step=on_step,
            timeout_s=timeout_s,
        )

    async def snapshot(
        self, *, mode: SnapshotMode = "full", scope: str | None = None, page_number: int = 1
    ) -> Snapshot:
        """The page's current ``@eN`` snapshot, within ``settings.max_snapshot_tokens``."""
        async with self.session.lock:
            return await self.session.snapshot(
                mode=mode,
                scope=scope,
                max_tokens=self.settings.max_snapshot_tokens,
                page_number=page_number,
            )

    async def close(self) -> None:
        """Close the browser (and the prompt cache's store); safe to call twice."""
        await self.session.close()
        if self._recipes is not None:
            await self._recipes.close()
