"""Firecrawl's usage endpoints, as its SDKs read them (``get_credit_usage``, ``get_token_usage``,
``get_concurrency``, ``get_queue_status`` and the historical, by-key forms).

A key sees its own credits and tokens (what it has left of its budget this month; a key without
a budget has Firecrawl's self-hosted "unlimited", 99999999); the history covers every key of the
deployment, as a Firecrawl team's covers all its keys, by key *name* with ``?byApiKey=true``.
Periods are calendar months (UTC): ``startDate`` its first instant, ``endDate`` the next month's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from agent.server.connection import server_state
from agent.server.routes import require_api_key
from agent.service.accounting import current_key
from agent.service.usage import UNLIMITED, month_bounds
from agent.service.usage_store import MonthUsage

__all__ = ["router"]

router = APIRouter(prefix="/v2", dependencies=[Depends(require_api_key)])

ByKey = Annotated[bool, Query(alias="byApiKey")]
"""``?byApiKey=true``: the history per key name rather than in all."""


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


@router.get("/team/credit-usage")
async def credit_usage(request: Request) -> dict[str, Any]:
    """The calling key's credits left this month."""
    return await _left_this_month(request, "Credits")


@router.get("/team/token-usage")
async def token_usage(request: Request) -> dict[str, Any]:
    """The calling key's model tokens left this month."""
    return await _left_this_month(request, "Tokens")


async def _left_this_month(request: Request, kind: Literal["Credits", "Tokens"]) -> dict[str, Any]:
    """The calling key's budget of credits or tokens this month and what is left of it."""
    state = server_state(request)
    key, month = current_key(), _this_month()
    credits, tokens = await state.usage.spent(key, month)
    spent = credits if kind == "Credits" else tokens
    budget = state.usage.budgets.get(key)
    limit = None if budget is None else budget.credits if kind == "Credits" else budget.tokens
    plan = limit if limit is not None else UNLIMITED
    start, end = month_bounds(month)
    return {
        "success": True,
        "data": {
            f"remaining{kind}": max(0, plan - spent),
            f"plan{kind}": plan,
            "billingPeriodStart": start,
            "billingPeriodEnd": end,
        },
    }


@router.get("/team/credit-usage/historical")
async def credit_usage_historical(request: Request, by_api_key: ByKey = False) -> dict[str, Any]:
    """Credits spent per month, in all or per key name."""
    return await _history(request, "creditsUsed", by_api_key)


@router.get("/team/token-usage/historical")
async def token_usage_historical(request: Request, by_api_key: ByKey = False) -> dict[str, Any]:
    """Model tokens used per month, in all or per key name."""
    return await _history(request, "tokensUsed", by_api_key)


async def _history(request: Request, field: str, by_key: bool) -> dict[str, Any]:
    months = await server_state(request).usage.months()
    return {"success": True, "periods": _periods(months, field, by_key)}


def _periods(months: list[MonthUsage], field: str, by_key: bool) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str], int] = {}
    for usage in months:
        spent = usage.credits if field == "creditsUsed" else usage.tokens
        group = (usage.month, usage.key if by_key else "")
        totals[group] = totals.get(group, 0) + spent
    periods: list[dict[str, Any]] = []
    for (month, key), spent in sorted(totals.items()):
        start, end = month_bounds(month)
        period: dict[str, Any] = {"startDate": start, "endDate": end, field: spent}
        if by_key:
            period["apiKey"] = key  # the key's name, never the key
        periods.append(period)
    return periods


@router.get("/concurrency-check")
async def concurrency_check(request: Request) -> dict[str, Any]:
    """Sessions the calling key has open (on every replica), and how many one replica holds."""
    state = server_state(request)
    key = current_key()
    records = await state.registry.store.records()
    mine = sum(1 for record in records if record.key_name == key)
    return {"success": True, "concurrency": mine, "maxConcurrency": state.settings.max_sessions}


@router.get("/team/queue-status")
async def queue_status(request: Request) -> dict[str, Any]:
    """Scrapes at work and waiting on this replica, and when one last succeeded."""
    state = server_state(request)
    active = state.turns.active
    waiting = state.turns.waiting + state.registry.browsers_waiting
    last = state.usage.last_success
    return {
        "success": True,
        "jobsInQueue": active + waiting,
        "activeJobsInQueue": active,
        "waitingJobsInQueue": waiting,
        "maxConcurrency": state.settings.scrape_concurrency or state.settings.max_sessions,
        "mostRecentSuccess": (
            datetime.fromtimestamp(last, UTC).isoformat(timespec="milliseconds") if last else None
        ),
    }
