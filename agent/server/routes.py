"""The Firecrawl v2 endpoints: scrape, interact, stop."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request

from agent.observability import note_key
from agent.server.cdp_proxy import cdp_url
from agent.server.connection import base_url, server_state
from agent.server.live_view import live_view_urls
from agent.server.responses import InteractResponse, StopResponse
from agent.service.interact import run_interact
from agent.service.keys import key_of_request
from agent.service.schemas import InteractRequest, ScrapeRequest
from agent.service.scrape import scrape_into_new_session

__all__ = ["require_api_key", "router"]

log = logging.getLogger(__name__)


async def require_api_key(request: Request) -> None:
    """Accept the request if no keys are configured or it carries one as a bearer token; the
    key's name goes with the request from then on (logs, usage, budgets).

    Raises:
        RequestError: UNAUTHORIZED (see :func:`~agent.service.keys.key_of_request`).
    """
    keys = server_state(request).settings.keys()
    note_key(key_of_request(keys, request.headers.get("authorization", "")))


router = APIRouter(prefix="/v2", dependencies=[Depends(require_api_key)])


@router.post("/scrape")
async def scrape(request: Request, body: ScrapeRequest) -> dict[str, Any]:
    """Load a URL in a new browser session, run its actions and return its content; the
    session stays open on the page the actions left."""
    state = server_state(request)
    if body.model_extra:
        log.info("scrape: ignoring fields this server does not use: %s", sorted(body.model_extra))
    _session, data = await scrape_into_new_session(state, body)
    return {"success": True, "data": data}


@router.post("/scrape/{scrape_id}/interact")
async def interact(request: Request, scrape_id: str, body: InteractRequest) -> dict[str, Any]:
    """Run a prompt or code on the session a scrape left open."""
    state = server_state(request)
    if body.model_extra:
        log.info("interact: ignoring unknown fields %s", sorted(body.model_extra))
    async with state.registry.use(scrape_id) as session:
        outcome = await run_interact(state, session.browser_session, body, served=session)
    view_url, control_url = live_view_urls(base_url(request), session)
    return InteractResponse(
        success=outcome.success,
        cdp_url=cdp_url(base_url(request), session),
        live_view_url=view_url,
        interactive_live_view_url=control_url,
        output=outcome.output,
        stdout=outcome.stdout,
        result=outcome.result,
        stderr=outcome.stderr,
        exit_code=outcome.exit_code,
        killed=outcome.killed,
        truncated=outcome.truncated,
        error=outcome.error,
        script=outcome.script,
        cache=outcome.cache,
    ).wire()


@router.delete("/scrape/{scrape_id}/interact")
async def stop(request: Request, scrape_id: str) -> dict[str, Any]:
    """Close the session: its profile is written back (saveChanges), its browser closed."""
    session = await server_state(request).registry.close(scrape_id, "stopped by the client")
    return StopResponse(session_duration_ms=session.duration_ms()).model_dump(by_alias=True)
