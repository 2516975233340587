"""Loading a URL into a session's page, running the scrape's actions on it, and producing the
formats it asked for (json and summary through :mod:`agent.service.extract`)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.browser.egress import BLOCKED, UNRESOLVED
from agent.browser.session import BrowserSession
from agent.errors import AgentError, BrowserError, RequestError, first_line
from agent.messages import ModelSettings
from agent.observability import note_session
from agent.service import content
from agent.service.accounting import current_key
from agent.service.actions import ActionRun, describe, take_screenshot
from agent.service.extract import Extractor
from agent.service.metrics import outcome_of
from agent.service.registry import ServerSession
from agent.service.schemas import ScrapeRequest
from agent.service.turns import Turn
from tools.context import ToolContext

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page, Response

    from agent.messages import Usage
    from agent.service.state import ServerState

__all__ = [
    "AD_URL_PATTERNS",
    "check_cache_only",
    "scrape_into_new_session",
    "scrape_page",
]

log = logging.getLogger(__name__)

# Hosts of the big ad and tracking networks; blocked with blockAds (Firecrawl's default).
AD_URL_PATTERNS: tuple[str, ...] = tuple(
    f"*://*.{host}/*"
    for host in (
        "doubleclick.net", "googlesyndication.com", "googleadservices.com",
        "google-analytics.com", "googletagmanager.com", "googletagservices.com",
        "adservice.google.com", "adnxs.com", "adsrvr.org", "amazon-adsystem.com",
        "criteo.com", "criteo.net", "outbrain.com", "taboola.com", "rubiconproject.com",
        "pubmatic.com", "openx.net", "casalemedia.com", "scorecardresearch.com",
        "moatads.com", "quantserve.com", "advertising.com", "adform.net", "smartadserver.com",
        "yieldmo.com", "facebook.net", "hotjar.com", "segment.io", "mixpanel.com",
    )
)  # fmt: skip

_MOBILE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{version} Mobile Safari/537.36"
)

# Chromium net errors, grouped by what the caller should be told.
_DNS_ERRORS = ("ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED")
_TLS_ERRORS = ("ERR_SSL_", "ERR_CERT_", "ERR_BAD_SSL_CLIENT_AUTH_CERT")
_UNREACHABLE_ERRORS = (
    "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED",
    "ERR_ADDRESS_UNREACHABLE", "ERR_NETWORK_UNREACHABLE", "ERR_EMPTY_RESPONSE",
    "ERR_CONNECTION_FAILED", "ERR_INTERNET_DISCONNECTED", "ERR_ADDRESS_INVALID",
)  # fmt: skip
_TIMEOUT_ERRORS = ("ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT")


def check_cache_only(request: ScrapeRequest) -> None:
    """Refuse, as Firecrawl answers a cache miss, a scrape that may be served only from a cache:
    this server keeps none, and loading the page live is what the client ruled out."""
    if request.lockdown:
        raise RequestError(
            "SCRAPE_LOCKDOWN_CACHE_MISS",
            "lockdown: true asks for a cached copy and no outbound request, and this server "
            "keeps no cache, so there is nothing to serve. Drop lockdown to load the page live.",
        )
    if request.min_age:
        raise RequestError(
            "SCRAPE_NO_CACHED_DATA",
            f"minAge: {request.min_age} asks for a cached copy at least that old, and this "
            "server keeps no cache, so there is none. Drop minAge to load the page live.",
        )


async def scrape_into_new_session(
    state: ServerState, request: ScrapeRequest
) -> tuple[ServerSession, dict[str, Any]]:
    """Open a session, load ``request.url`` into it, run its actions and return the session
    with Firecrawl's ``data``; the HTTP route and the MCP ``scrape`` tool both come here.

    The session stays open on the page the actions left, for interact calls; if the scrape
    fails it is closed (its profile unsaved) and the error raised.

    Raises:
        RequestError: a cache-only request, a blocked address, and as
            :meth:`SessionRegistry.open` and :func:`scrape_page`.
        ConfigError: json or summary asked for and no model configured (before any browser
            starts).
    """
    settings = state.settings
    key = current_key()
    check_cache_only(request)
    await state.usage.check(key, tokens=request.needs_model())  # before any browser starts
    started, outcome = time.perf_counter(), "success"
    try:
        with state.telemetry.span("scrape", attributes=_span_attributes(request)) as span:
            extractor = None
            if request.needs_model():
                extractor = Extractor(
                    await state.model(),
                    ModelSettings.from_settings(state.agent_settings),
                    max_input_tokens=settings.max_extract_tokens,
                )
            async with state.turns.turn() as turn:
                with state.registry.serving_scrape():
                    session, data = await _scrape_into_new_session(
                        state, request, extractor, key, turn
                    )
            if span is not None:
                span.set_attribute("agent.session.id", session.id)
                span.set_attribute("http.response.status_code", data["metadata"]["statusCode"])
    except BaseException as exc:
        outcome = outcome_of(exc)
        raise
    finally:
        if state.metrics is not None:
            state.metrics.scrape_duration.labels(outcome).observe(time.perf_counter() - started)
    note_session(session.id)
    state.usage.scraped(key)
    return session, data


def _span_attributes(request: ScrapeRequest) -> dict[str, Any]:
    """What a ``scrape`` span says of its request: where (without the query string, which may
    hold the site's own tokens), which formats, how many actions."""
    parts = urlsplit(request.url)
    return {
        "url.full": f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}",
        "agent.scrape.formats": sorted(request.format_names()),
        "agent.scrape.actions": len(request.actions or ()),
    }


async def _scrape_into_new_session(
    state: ServerState,
    request: ScrapeRequest,
    extractor: Extractor | None,
    key: str,
    turn: Turn,
) -> tuple[ServerSession, dict[str, Any]]:
    settings = state.settings
    with turn.starting():  # the turn is kept while a browser starts for this scrape
        session = await state.registry.open(
            ttl_s=request.ttl,
            activity_ttl_s=request.activity_ttl,
            profile=request.profile,
            key_name=key,
            url=request.url,  # checked against the address policy before a browser starts
        )
    # An explicit timeout bounds the whole scrape, as the client's own HTTP timeout does; by
    # default json and summary get the time a prompt gets, after the page is loaded.
    if request.timeout:
        timeout_s, extract_timeout_s = request.timeout / 1000, None
    else:
        timeout_s = settings.default_scrape_timeout
        extract_timeout_s = float(settings.default_prompt_timeout)
    try:
        async with state.registry.use(session.id), session.browser_session.lock:
            data = await scrape_page(
                session.browser_session,
                request,
                scrape_id=session.id,
                timeout_s=timeout_s,
                extractor=extractor,
                extract_timeout_s=extract_timeout_s,
            )
    except BaseException:
        await state.registry.discard(session, "closed because its scrape failed")
        raise
    return session, data


async def scrape_page(
    session: BrowserSession,
    request: ScrapeRequest,
    *,
    scrape_id: str,
    timeout_s: float,
    extractor: Extractor | None = None,
    extract_timeout_s: float | None = None,
) -> dict[str, Any]:
    """Load ``request.url`` into the session's page, run its actions, and return Firecrawl's
    ``data`` object. The session keeps the page the actions left.

    Args:
        timeout_s: the time for loading, actions and the content formats.
        extractor: makes the json and summary formats; needed when they are asked for.
        extract_timeout_s: the time for json and summary after that; None: what is left of
            ``timeout_s``.

    Raises:
        RequestError: SCRAPE_TIMEOUT past the timeout; SCRAPE_ACTION_ERROR when an action
            failed; 400 with a code saying why when the site cannot be reached; 403 for a
            blocked address; the extractor's errors.
    """
    started = time.monotonic()
    run = ActionRun(session, deadline=started + timeout_s)
    phase = "load"
    try:
        async with asyncio.timeout(timeout_s):
            page = session.page
            await _prepare(session, page, request)
            response = await _navigate(session, page, request.url, timeout_s)
            if request.wait_for:
                await page.wait_for_timeout(request.wait_for)
            if request.actions:
                phase = "actions"
                await run.run(request.actions)
                phase = "collect"
            # The actions may have moved on to another tab: the content is the page they left.
            data, markdown = await _collect(
                session, request, response, scrape_id, deadline=started + timeout_s
            )
        if request.actions:
            data["actions"] = run.outputs()
        warnings = [request.not_applied_warning()]
        if request.needs_model():
            assert extractor is not None, "json and summary need an extractor"
            phase = "extract"
            budget = extract_timeout_s
            if budget is None:
                budget = max(0.0, started + timeout_s - time.monotonic())
            warnings += await _extract(data, markdown, request, extractor, budget)
        if any(warnings):
            data["warning"] = " ".join(w for w in warnings if w)
        return data
    except TimeoutError:
        raise _scrape_timeout(request, phase, run, timeout_s, extract_timeout_s) from None
    except (RequestError, PlaywrightError) as exc:
        failure = _crash_or_late_step(session, request, exc, timeout_s)
        if failure is None:
            raise
        raise failure from exc
    finally:
        log.info("scrape %s of %s took %.2f s", scrape_id, request.url, time.monotonic() - started)


async def _extract(
    data: dict[str, Any],
    markdown: str,
    request: ScrapeRequest,
    extractor: Extractor,
    budget_s: float,
) -> list[str]:
    """Add the json and summary formats (and the model's usage) to ``data``, within
    ``budget_s``; return the extraction's warnings."""
    async with asyncio.timeout(budget_s):
        extraction = await extractor.extract(
            markdown,
            json_format=request.json_format(),
            summary="summary" in request.format_names(),
        )
    data.update(extraction.values)
    if extraction.values:
        data["metadata"]["usage"] = _usage(extraction.usage, extractor.model.model_id)
    return extraction.warnings


def _crash_or_late_step(
    session: BrowserSession, request: ScrapeRequest, exc: Exception, timeout_s: float
) -> AgentError | None:
    """What a scrape's failure is to its client when it is not the page's nor the request's
    fault: Chromium died, or a step after loading ran out of time; None: ``exc`` as it is."""
    if not session.alive:  # not the page's fault nor the request's: a crash
        ended = session.lost_reason
        return BrowserError(
            f"Chromium died while loading {request.url}"
            + (f": {ended}." if ended else "; send the scrape again.")
        )
    if isinstance(exc, PlaywrightTimeoutError):
        # A step after loading (a screenshot of a busy page) ran out of the scrape's time.
        step = first_line(exc)
        return RequestError(
            "SCRAPE_TIMEOUT",
            f"Scrape timed out: {request.url} loaded, but a later step did not finish within "
            f"{timeout_s:g} s, the scrape's timeout ({step}). Raise 'timeout' (milliseconds, "
            "up to 300000) or ask for fewer formats.",
        )
    return None


def _usage(usage: Usage, model_id: str) -> dict[str, Any]:
    return {
        "model": model_id,
        "inputTokens": usage.input,
        "outputTokens": usage.output,
        "cachedTokens": usage.cached,
    }


def _scrape_timeout(
    request: ScrapeRequest,
    phase: str,
    run: ActionRun,
    timeout_s: float,
    extract_timeout_s: float | None,
) -> RequestError:
    raise_it = "Raise 'timeout' (milliseconds, up to 300000)"
    if phase == "load":
        return _timeout_error(request.url, timeout_s)
    if phase == "actions" and run.current is not None:
        index, action = run.current
        return RequestError(
            "SCRAPE_TIMEOUT",
            f"Scrape timed out during actions[{index}] ({describe(action)}): the scrape's "
            f"{timeout_s:g} s ran out. {raise_it}, or check the action's selector and that the "
            "page is ready for it.",
            details={"index": index, "type": action.type},
        )
    if phase == "extract":
        limit = (
            f"{extract_timeout_s:g} s (AGENT_DEFAULT_PROMPT_TIMEOUT)"
            if extract_timeout_s is not None
            else f"the rest of the scrape's {timeout_s:g} s"
        )
        return RequestError(
            "SCRAPE_TIMEOUT",
            f"Scrape timed out: {request.url} loaded, but the model did not produce the json or "
            f"summary format within {limit}. {raise_it}, or check that the model backend is "
            "answering.",
        )
    return RequestError(
        "SCRAPE_TIMEOUT",
        f"Scrape timed out: {request.url} loaded, but taking its content did not finish within "
        f"{timeout_s:g} s, the scrape's timeout. {raise_it} or ask for fewer formats.",
    )


async def _prepare(session: BrowserSession, page: Page, request: ScrapeRequest) -> None:
    context = session.context
    if request.headers:
        try:
            await context.set_extra_http_headers(request.headers)
        except PlaywrightError as exc:
            raise RequestError("BAD_REQUEST", f"Bad 'headers': {exc.message}") from None
    cdp = await context.new_cdp_session(page)
    if request.skip_tls_verification:
        await cdp.send("Security.setIgnoreCertificateErrors", {"ignore": True})
    if request.block_ads:
        await cdp.send("Network.enable")
        await cdp.send("Network.setBlockedURLs", {"urls": list(AD_URL_PATTERNS)})
    if request.mobile:
        await _emulate_mobile(cdp, session)


async def _emulate_mobile(cdp: CDPSession, session: BrowserSession) -> None:
    version = session.browser_version.split("/")[-1]
    await cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 412, "height": 915, "deviceScaleFactor": 2.625, "mobile": True},
    )
    await cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    await cdp.send(
        "Network.setUserAgentOverride",
        {"userAgent": _MOBILE_USER_AGENT.format(version=version), "platform": "Android"},
    )


async def _navigate(
    session: BrowserSession, page: Page, url: str, timeout_s: float
) -> Response | None:
    started = time.monotonic()
    try:
        return await page.goto(url, wait_until="load", timeout=timeout_s * 1000)
    except PlaywrightTimeoutError:
        raise _timeout_error(url, timeout_s) from None
    except PlaywrightError as exc:
        refusals = session.handle.egress_refusals(started)
        raise _egress_error(url, exc, refusals) or _load_error(url, exc) from None


def _egress_error(
    url: str, exc: PlaywrightError, refusals: list[tuple[str, str]]
) -> RequestError | None:
    """What a navigation the box's egress checkpoint refused (itself, or a redirect hop of it)
    failed of: Chromium says only that its proxy refused (``agent.browser.egress``)."""
    if "ERR_SOCKS_CONNECTION_FAILED" not in str(exc) or not refusals:
        return None
    blocked = [host for host, reason in refusals if reason == BLOCKED]
    if blocked:
        return RequestError(
            "SCRAPE_BLOCKED",
            f"Loading {url} was blocked: it reaches {blocked[-1]!r}, a private, loopback or "
            "link-local address, which this server does not load (AGENT_BLOCK_PRIVATE_ADDRESSES "
            "is on).",
        )
    host, reason = refusals[-1]
    if reason == UNRESOLVED:
        return RequestError(
            "SCRAPE_DNS_RESOLUTION_ERROR",
            f"DNS lookup failed: the host {host!r} could not be resolved. Check the URL's "
            "spelling and that the site exists.",
        )
    return RequestError(
        "SCRAPE_SITE_UNREACHABLE",
        f"Could not connect to {host!r}: nothing answered at that address and port. Check the "
        "URL and that the site is up.",
    )


def _timeout_error(url: str, timeout_s: float) -> RequestError:
    return RequestError(
        "SCRAPE_TIMEOUT",
        f"Scrape timed out: {url} did not finish loading within {timeout_s:g} s. Raise "
        "'timeout' (milliseconds, up to 300000) or check that the site answers.",
    )


def _load_error(url: str, exc: PlaywrightError) -> RequestError:
    message = first_line(exc)
    net_error = next((part for part in message.split() if part.startswith("net::")), "")
    code = net_error.removeprefix("net::")
    host = urlsplit(url).hostname or url
    if code.startswith(_DNS_ERRORS):
        return RequestError(
            "SCRAPE_DNS_RESOLUTION_ERROR",
            f"DNS lookup failed: the host {host!r} could not be resolved ({net_error}). "
            "Check the URL's spelling and that the site exists.",
        )
    if code.startswith(_TLS_ERRORS):
        return RequestError(
            "SCRAPE_SSL_ERROR",
            f"TLS handshake with {host!r} failed ({net_error}): the site's certificate or "
            "HTTPS setup is broken. Send skipTlsVerification: true to ignore certificate "
            "errors, or use http:// if the site has no HTTPS.",
        )
    if code.startswith(_UNREACHABLE_ERRORS):
        return RequestError(
            "SCRAPE_SITE_UNREACHABLE",
            f"Could not connect to {host!r} ({net_error}): nothing answered at that address "
            "and port. Check the URL and that the site is up.",
        )
    if code.startswith(_TIMEOUT_ERRORS):
        return RequestError("SCRAPE_TIMEOUT", f"Connecting to {host!r} timed out ({net_error}).")
    if code == "ERR_BLOCKED_BY_CLIENT":
        return RequestError(
            "SCRAPE_BLOCKED",
            f"Loading {url} was blocked: it reaches a private or local address, which this "
            "server refuses (AGENT_BLOCK_PRIVATE_ADDRESSES), or an ad-blocked host.",
        )
    if code == "ERR_ABORTED":
        return RequestError(
            "SCRAPE_ABORTED",
            f"Loading {url} was aborted ({net_error}): the URL probably starts a download "
            "instead of showing a page.",
        )
    return RequestError("SCRAPE_FAILED", f"Loading {url} failed: {message}")


async def _collect(
    session: BrowserSession,
    request: ScrapeRequest,
    response: Response | None,
    scrape_id: str,
    *,
    deadline: float,
) -> tuple[dict[str, Any], str]:
    """The content formats and metadata of the session's page, and its markdown (what json and
    summary are made from, whether or not markdown was asked for)."""
    page = session.page
    formats = request.format_names()
    raw_html = await page.content()
    final_url = page.url
    data: dict[str, Any] = {}
    markdown = ""
    if formats & {"markdown", "html"} or request.needs_model():
        try:
            cleaned = await asyncio.to_thread(
                content.clean_html,
                raw_html,
                final_url,
                only_main_content=request.only_main_content,
                include_tags=request.include_tags,
                exclude_tags=request.exclude_tags,
            )
        except ValueError as exc:
            raise RequestError("BAD_REQUEST", f"Bad includeTags/excludeTags: {exc}") from None
        if "markdown" in formats or request.needs_model():
            markdown = await asyncio.to_thread(
                content.to_markdown, cleaned, remove_base64_images=request.remove_base64_images
            )
        if "markdown" in formats:
            data["markdown"] = markdown
        if "html" in formats:
            data["html"] = cleaned
    if "rawHtml" in formats:
        data["rawHtml"] = raw_html
    if "links" in formats:
        data["links"] = content.extract_links(raw_html, final_url)
    if "images" in formats:
        data["images"] = content.extract_images(raw_html, final_url)
    shot = request.screenshot_options()
    if shot is not None:
        # The scrape's own deadline bounds the screenshot, not the short per-action timeout:
        # a full-page shot of a long page on a busy machine takes seconds.
        remaining_ms = max(1000.0, (deadline - time.monotonic()) * 1000)
        data["screenshot"] = await take_screenshot(
            ToolContext(session), shot, timeout_ms=remaining_ms
        )
    metadata = content.extract_metadata(raw_html, final_url)
    metadata.update(
        {
            "sourceURL": request.url,
            "url": final_url,
            "statusCode": response.status if response is not None else 200,
            "scrapeId": scrape_id,
        }
    )
    if response is not None:
        content_type = (await response.all_headers()).get("content-type")
        if content_type:
            metadata["contentType"] = content_type
    metadata.setdefault("title", await page.title() or None)
    data["metadata"] = metadata
    return data, markdown
