"""``agent scrape URL``: load a page into a server-side browser session and print it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from agent.cli.client import AgentClient, LastScrape
from agent.errors import ClientError

__all__ = ["register"]

FORMATS = ("markdown", "html", "rawHtml", "links", "screenshot")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scrape",
        help="load a page in a browser session and print its content",
        description="Scrape URL on the server (AGENT_SERVER_URL; a local one is started if none "
        "answers). Prints markdown by default and remembers the scrape id for `agent interact`.",
    )
    parser.add_argument("url", help="the page to load (http or https)")
    parser.add_argument(
        "--format",
        "-f",
        action="append",
        choices=FORMATS,
        help="content to return; repeat for several (default markdown)",
    )
    parser.add_argument("--profile", help="load (and by default save) this named browser profile")
    parser.add_argument(
        "--no-save-changes",
        action="store_true",
        help="read the profile but do not write changes back when the session stops",
    )
    parser.add_argument("--main-content", action="store_true", help="only the main content")
    parser.add_argument("--wait-for", type=int, default=0, help="milliseconds to wait after load")
    parser.add_argument("--json", action="store_true", help="print the whole response as JSON")
    parser.set_defaults(handler=_scrape)


def _scrape(args: argparse.Namespace) -> int:
    formats = args.format or ["markdown"]
    body: dict[str, Any] = {
        "url": args.url,
        "formats": formats,
        "onlyMainContent": bool(args.main_content),
        "origin": "cli",
        "integration": "cli",
    }
    if args.wait_for:
        body["waitFor"] = args.wait_for
    if args.profile:
        body["profile"] = {"name": args.profile, "saveChanges": not args.no_save_changes}
    client = AgentClient()
    try:
        client.ensure_server()
        response = client.scrape(body)
    except ClientError as exc:
        print(f"agent scrape: {exc}", file=sys.stderr)
        return 1
    data = response.get("data") or {}
    metadata = data.get("metadata") or {}
    scrape_id = metadata.get("scrapeId")
    if scrape_id:
        LastScrape(scrape_id, args.url, time.time()).save()
        print(f"scrape id: {scrape_id}", file=sys.stderr)
    if args.json:
        print(json.dumps(response, indent=2))
        return 0
    status = metadata.get("statusCode")
    if isinstance(status, int) and status >= 400:
        print(f"note: the page answered HTTP {status}", file=sys.stderr)
    for name in formats:
        value = data.get(name)
        if name == "links" and isinstance(value, list):
            print("\n".join(str(link) for link in value))
        elif value is not None:
            print(value)
    return 0
