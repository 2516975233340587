"""Loading a URL into a session's page and producing the formats a scrape asked for."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.browser.session import BrowserSession
from agent.errors import BrowserError, RequestError, ToolError, first_line
from agent.server import content
from agent.server.registry import ServerSession, SessionRegistry
from agent.server.schemas import ScrapeRequest, ScreenshotOptions
from agent.server.settings import ServerSettings

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page, Response, Route

__all__ = [
    "AD_URL_PATTERNS",
    "ServedBrowserSession",
    "block_private_requests",
    "check_public_address",
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


class ServedBrowserSession(BrowserSession):
    """A server session's browser, whose planner can open web pages only.

    The ``navigate`` tool also accepts ``file://`` for local use; on a server that would let a
    prompt, or a page steering the model, read the server's files, other sessions' profiles
    among them.
    """

    async def goto(self, url: str, *, wait_until: str = "load") -> int | None:
        if urlsplit(url).scheme.lower() not in ("http", "https") and url != "about:blank":
            raise ToolError(f"{url[:200]!r} cannot be opened here: give an http(s) URL.")
        return await super().goto(url, wait_until=wait_until)


async def scrape_into_new_session(
    registry: SessionRegistry, settings: ServerSettings, request: ScrapeRequest
) -> tuple[ServerSession, dict[str, Any]]:
    """Open a session, load ``request.url`` into it and return it with Firecrawl's ``data``.

    The session stays open for interact calls; if the scrape fails it is closed (its profile
    unsaved) and the error raised.

    Raises:
        RequestError: as :meth:`SessionRegistry.open` and :func:`scrape_page`.
    """
    if settings.block_private_addresses:
        await check_public_address(request.url)
    session = await registry.open(
        ttl_s=request.ttl, activity_ttl_s=request.activity_ttl, profile=request.profile
    )
    timeout_s = request.timeout / 1000 if request.timeout else settings.default_scrape_timeout
    try:
        async with registry.use(session.id), session.browser_session.lock:
            data = await scrape_page(
                session.browser_session,
                request,
                scrape_id=session.id,
                timeout_s=timeout_s,
                block_private_addresses=settings.block_private_addresses,
            )
    except BaseException:
        await registry.discard(session, "closed because its scrape failed")
        raise
    return session, data


async def scrape_page(
    session: BrowserSession,
    request: ScrapeRequest,
    *,
    scrape_id: str,
    timeout_s: float,
    block_private_addresses: bool = False,
) -> dict[str, Any]:
    """Load ``request.url`` into the session's page and return Firecrawl's ``data`` object.

    Raises:
        RequestError: SCRAPE_TIMEOUT when loading takes longer than ``timeout_s``; 400 with a
            code saying why when the site cannot be reached; 403 for a blocked address.
    """
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            page = session.page
            await _prepare(session, page, request, block_private_addresses)
            response = await _navigate(page, request.url, timeout_s)
            if request.wait_for:
                await page.wait_for_timeout(request.wait_for)
            return await _collect(page, request, response, scrape_id, deadline=started + timeout_s)
    except TimeoutError:
        raise _timeout_error(request.url, timeout_s) from None
    except (RequestError, PlaywrightError) as exc:
        if not session.alive:  # not the page's fault nor the request's: a crash
            raise BrowserError(
                f"Chromium died while loading {request.url}; send the scrape again."
            ) from exc
        if isinstance(exc, PlaywrightTimeoutError):
            # A step after loading (a screenshot of a busy page) ran out of the scrape's time.
            step = first_line(exc)
            raise RequestError(
                "SCRAPE_TIMEOUT",
                f"Scrape timed out: {request.url} loaded, but a later step did not finish within "
                f"{timeout_s:g} s, the scrape's timeout ({step}). Raise 'timeout' (milliseconds, "
                "up to 300000) or ask for fewer formats.",
            ) from exc
        raise
    finally:
        log.info("scrape %s of %s took %.2f s", scrape_id, request.url, time.monotonic() - started)


async def _prepare(
    session: BrowserSession, page: Page, request: ScrapeRequest, block_private: bool
) -> None:
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
    if block_private:
        await block_private_requests(context)


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


async def _navigate(page: Page, url: str, timeout_s: float) -> Response | None:
    try:
        return await page.goto(url, wait_until="load", timeout=timeout_s * 1000)
    except PlaywrightTimeoutError:
        raise _timeout_error(url, timeout_s) from None
    except PlaywrightError as exc:
        raise _load_error(url, exc) from None


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
    page: Page,
    request: ScrapeRequest,
    response: Response | None,
    scrape_id: str,
    *,
    deadline: float,
) -> dict[str, Any]:
    formats = request.format_names()
    raw_html = await page.content()
    final_url = page.url
    data: dict[str, Any] = {}
    if "markdown" in formats or "html" in formats:
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
        if "markdown" in formats:
            data["markdown"] = await asyncio.to_thread(
                content.to_markdown, cleaned, remove_base64_images=request.remove_base64_images
            )
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
        data["screenshot"] = await _screenshot(page, shot, timeout_ms=remaining_ms)
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
    return data


async def _screenshot(page: Page, options: ScreenshotOptions, *, timeout_ms: float) -> str:
    if options.viewport is not None:
        width, height = options.viewport
        await page.set_viewport_size({"width": width, "height": height})
    if options.quality is not None:
        image = await page.screenshot(
            full_page=options.full_page, type="jpeg", quality=options.quality, timeout=timeout_ms
        )
        mime = "image/jpeg"
    else:
        image = await page.screenshot(full_page=options.full_page, type="png", timeout=timeout_ms)
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_public_address(url: str) -> None:
    """Raise 403 when ``url``'s host is or resolves to a non-public address (SSRF guard)."""
    host = urlsplit(url).hostname or ""
    if await _host_is_private(host):
        raise RequestError(
            "SCRAPE_BLOCKED",
            f"{host!r} is a private, loopback or link-local address, which this server does "
            "not load (AGENT_BLOCK_PRIVATE_ADDRESSES is on).",
        )


async def _host_is_private(host: str) -> bool:
    try:
        return _is_private(host)
    except ValueError:
        pass  # a name, not an address literal
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # unresolvable: let the browser report the DNS error
    return any(_is_private(str(info[4][0])) for info in infos)


async def block_private_requests(context: BrowserContext) -> None:
    """Abort every request, redirects and subresources included, that reaches a private host
    (for a server whose ``block_private_addresses`` is on)."""
    verdicts: dict[str, bool] = {}

    async def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("http://", "https://", "ws://", "wss://")):
            if host not in verdicts:
                verdicts[host] = await _host_is_private(host)
            if verdicts[host]:
                await route.abort("blockedbyclient")
                return
        await route.fallback()

    await context.route("**/*", guard)
