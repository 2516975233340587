"""The command-line flags every Chromium this library starts gets."""

from __future__ import annotations

__all__ = ["QUIET_FLAGS"]

# Flags that keep Chromium from reaching out to Google services on a machine with no network
# (which otherwise floods the log with refused connections and slows start-up), and that keep
# an idle session small. A boxed browser drops --no-sandbox where Chromium's sandbox works in its
# box (agent.browser.box).
QUIET_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    # Playwright adds this when it launches Chromium itself: a page restored from the
    # back-forward cache fires no load event, which would stall every wait after back/forward.
    "--disable-back-forward-cache",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    # site-per-process and IsolateOrigins: a page's cross-site iframes (ads, embeds) share its
    # renderer instead of one process each. Site isolation guards sites from each other inside
    # one browser; every session has a browser (and a box) of its own.
    # WebUIOmnibox*Popup: Chromium 15x builds its address bar's suggestion popup as a web page
    # (chrome://omnibox-popup.top-chrome) at start-up, even headless where no address bar is
    # ever shown: a renderer of its own and about 0.6 of a start's 1.3 CPU-seconds here.
    "--disable-features=Translate,MediaRouter,OptimizationHints,site-per-process,IsolateOrigins,"
    "WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup",
    # The network service in the browser process: one process less per session (about 20 MiB).
    "--enable-features=NetworkServiceInProcess2",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
)
