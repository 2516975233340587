"""``agent interact``: keep working on the last scraped page, by prompt or by code."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from agent.cli.client import AgentClient, LastScrape
from agent.errors import ClientError

__all__ = ["register"]

# The server's default inactivity timeout; an older remembered id has probably expired.
INACTIVITY_S = 300


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "interact",
        help="act on the last scraped page by prompt (-c for code); `interact stop` ends it",
        description='`agent interact "PROMPT"` runs the planner on the session\'s page; '
        "`agent interact -c CODE` runs code (node by default, --python, --bash); "
        "`agent interact stop [ID]` stops the session. The last scrape id is used unless --id "
        "is given.",
    )
    parser.add_argument("words", nargs="*", help='a prompt, or "stop [ID]"')
    parser.add_argument("-c", "--code", help="code to run with `page` bound")
    language = parser.add_mutually_exclusive_group()
    language.add_argument("--node", dest="language", action="store_const", const="node")
    language.add_argument("--python", dest="language", action="store_const", const="python")
    language.add_argument("--bash", dest="language", action="store_const", const="bash")
    parser.add_argument("--timeout", type=int, default=30, help="seconds for code (1-300)")
    parser.add_argument("--id", dest="scrape_id", help="the session (scrape id) to act on")
    parser.add_argument("--json", action="store_true", help="print the whole response as JSON")
    parser.add_argument(
        "--script",
        action="store_true",
        help="print the prompt's recipe as agent-browser commands instead of its answer",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache", dest="cache", action="store_const", const=True,
        help="replay the prompt from the prompt cache when it holds it (and store its recipe)",
    )  # fmt: skip
    cache.add_argument("--no-cache", dest="cache", action="store_const", const=False)
    parser.set_defaults(handler=_interact, language=None, cache=None)


def _session_id(explicit: str | None) -> str:
    if explicit:
        return explicit
    last = LastScrape.load()
    if last is None:
        raise ClientError("No scrape to act on: run `agent scrape URL` first, or pass --id.")
    age = time.time() - last.at
    if age > INACTIVITY_S:
        print(
            f"warning: the last scrape ({last.url}) is {age / 60:.0f} min old and may have "
            "expired; run `agent scrape` again if this fails",
            file=sys.stderr,
        )
    return last.scrape_id


def _interact(args: argparse.Namespace) -> int:
    client = AgentClient()
    try:
        if args.words and args.words[0] == "stop":
            return _stop(client, args)
        if args.code is None and not args.words:
            raise ClientError('Give a prompt (agent interact "...") or code (-c CODE).')
        if args.code is not None and args.words:
            raise ClientError("Give a prompt or -c CODE, not both.")
        scrape_id = _session_id(args.scrape_id)
        body: dict[str, Any] = {"origin": "cli", "integration": "cli"}
        if args.code is not None:
            body.update(code=args.code, language=args.language or "node", timeout=args.timeout)
            wait_s = args.timeout + 30.0
        else:
            body["prompt"] = " ".join(args.words)
            if args.cache is not None:
                body["cache"] = args.cache
            wait_s = 900.0
        client.ensure_server(start=False)
        response = client.interact(scrape_id, body, timeout_s=wait_s)
    except ClientError as exc:
        print(f"agent interact: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(response, indent=2))
    elif args.script and args.code is None:
        print(response.get("script") or "", end="")
        if not response.get("script"):
            print("agent interact: the prompt failed, so it has no script.", file=sys.stderr)
    else:
        _print_human(response, prompt=args.code is None)
    return 0 if response.get("success") else 1


def _print_human(response: dict[str, Any], *, prompt: bool) -> None:
    for key, label in (("liveViewUrl", "live view"), ("interactiveLiveViewUrl", "interactive")):
        if response.get(key):
            print(f"{label}: {response[key]}", file=sys.stderr)
    if prompt:
        print(response.get("output") or "")
    else:
        stdout = response.get("stdout") or ""
        if stdout:
            print(stdout, end="" if stdout.endswith("\n") else "\n")
        if response.get("result"):
            print(response["result"])
        if response.get("stderr"):
            print(response["stderr"], file=sys.stderr, end="")
    if not response.get("success"):
        reason = response.get("error") or (
            "killed at the timeout" if response.get("killed") else ""
        )
        print(
            f"agent interact: failed (exit code {response.get('exitCode')}) {reason}".rstrip(),
            file=sys.stderr,
        )


def _stop(client: AgentClient, args: argparse.Namespace) -> int:
    scrape_id = args.words[1] if len(args.words) > 1 else _session_id(args.scrape_id)
    client.ensure_server(start=False, check_settings=False)
    response = client.stop(scrape_id)
    last = LastScrape.load()
    if last is not None and last.scrape_id == scrape_id:
        LastScrape.forget()
    if args.json:
        print(json.dumps(response, indent=2))
    else:
        print(
            f"stopped {scrape_id} after {int(response.get('sessionDurationMs') or 0) / 1000:.1f} s"
        )
    return 0
