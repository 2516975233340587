"""Response bodies of the Firecrawl v2 endpoints that are more than ``data``, camelCase on the
wire (the MCP server answers in text, so these are the HTTP face's alone)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["InteractResponse", "StopResponse"]


class InteractResponse(BaseModel):
    """Answer of an interact call, the fields Firecrawl's SDKs read."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    success: bool
    cdp_url: str
    live_view_url: str
    interactive_live_view_url: str
    output: str | None = None
    stdout: str | None = None
    result: str | None = None
    stderr: str | None = None
    exit_code: int
    killed: bool
    truncated: bool = False
    error: str | None = None
    script: str | None = None
    cache: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        body = self.model_dump(by_alias=True)
        for extra in ("error", "script", "cache"):  # present only when they say something
            if body[extra] is None:
                del body[extra]
        return body


class StopResponse(BaseModel):
    """Answer of ``DELETE /v2/scrape/{scrapeId}/interact``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    success: bool = True
    status: str = "stopped"
    session_duration_ms: int
