"""``agent mcp`` over stdio with ``AGENT_LOG_FORMAT=json``: its stderr is JSON lines only (stdout
carries the protocol), and the redaction of ``agent serve`` holds there too."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

MODEL_KEY = "sk-mcp-log-model-4c3b2a1f0e"
ROOT = Path(__file__).resolve().parents[2]


async def test_agent_mcp_writes_json_lines_without_secrets(tmp_path: Path, site: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "PYTHONPATH": str(ROOT),
        "AGENT_LOG_FORMAT": "json",
        "OPENAI_API_KEY": MODEL_KEY,
        "AGENT_PROFILES_DIR": str(tmp_path / "profiles"),
    }
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "agent", "mcp", "--log-level", "debug"],
        cwd=str(tmp_path), env=env,
    )  # fmt: skip
    errors = tmp_path / "stderr.log"
    with errors.open("w") as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write),
            ClientSession(read, write) as mcp,
        ):
            await mcp.initialize()
            # A key the process knows, in a URL the scrape's log line names: redacted there.
            scraped = await mcp.call_tool("scrape", {"url": f"{site}/index.html?k={MODEL_KEY}"})
            assert not scraped.is_error, scraped.content
            await mcp.call_tool("browser_navigate", {"url": f"{site}/index.html"})
    text = errors.read_text(errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) > 5, text
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry), line
    assert MODEL_KEY not in text
    scrape_line = next(json.loads(line) for line in lines if '"agent.service.scrape"' in line)
    assert "index.html?k=[redacted]" in scrape_line["message"]
