"""The json and summary formats: what the configured model makes of a scraped page's markdown.

A json answer is checked: it must parse, and match the format's JSON Schema when one was given
(validated with ``jsonschema``). One that does not is sent back to the model once, with what was
wrong; a second miss is a 422 ``SCRAPE_JSON_SCHEMA_MISMATCH`` naming the problems, never data
that breaks the client's schema. Model failures follow the prompt rules: the backend's own
retries and per-request timeout, then a 503 ``MODEL_BACKEND_ERROR``. Prompt text lives in the
``extract_*`` templates.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from referencing.exceptions import Unresolvable

from agent.browser.tokens import token_counter
from agent.errors import ModelError, RequestError
from agent.messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    ModelSettings,
    SystemMessage,
    Usage,
    UserMessage,
)
from agent.models.traced import request_model
from agent.service.scrape_options import json_schema_validator
from prompts import render

if TYPE_CHECKING:
    from agent.models.base import Model
    from agent.service.scrape_options import JsonFormat

__all__ = ["EXTRACT_OUTPUT_TOKENS", "Extraction", "Extractor", "check_answer", "parse_json_answer"]

EXTRACT_OUTPUT_TOKENS = 4096
"""Room for the answer: extracted data can be longer than a planner step."""
_SHOWN_PROBLEMS = 5
_FENCED = re.compile(r"^```[A-Za-z]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass
class Extraction:
    """What the model produced for a scrape: the formats' values, usage and warnings."""

    values: dict[str, Any] = field(default_factory=dict)
    """``{"json": ..., "summary": ...}``, for the formats produced."""
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)


class Extractor:
    """Asks one model for a page's json and summary formats.

    Args:
        model: the configured model backend.
        settings: per-request knobs (temperature, timeout), as prompts use them.
        max_input_tokens: how much of the page's markdown is sent; the rest is cut off, with a
            warning.
    """

    def __init__(self, model: Model, settings: ModelSettings, *, max_input_tokens: int) -> None:
        self.model = model
        self.settings = ModelSettings(
            temperature=settings.temperature,
            max_output_tokens=max(settings.max_output_tokens, EXTRACT_OUTPUT_TOKENS),
            timeout_s=settings.timeout_s,
        )
        self.max_input_tokens = max_input_tokens

    async def extract(
        self, markdown: str, *, json_format: JsonFormat | None, summary: bool
    ) -> Extraction:
        """The json (per ``json_format``) and/or summary of a page, given its markdown.

        Raises:
            RequestError: MODEL_BACKEND_ERROR when the backend failed after its retries,
                SCRAPE_JSON_SCHEMA_MISMATCH when the json answer still did not conform.
        """
        result = Extraction()
        wanted = [name for name, on in (("json", json_format), ("summary", summary)) if on]
        if not markdown.strip():
            result.warnings.append(
                f"The page has no text content, so the {' and '.join(wanted)} format"
                f"{'s were' if len(wanted) > 1 else ' was'} not produced."
            )
            return result
        page, trimmed = await asyncio.to_thread(self._trim, markdown)
        if trimmed:
            result.warnings.append(trimmed)
        if json_format is not None:
            result.values["json"] = await self._json(page, json_format, result)
        if summary:
            result.values["summary"] = await self._summary(page, result)
        return result

    def _trim(self, markdown: str) -> tuple[str, str | None]:
        encoding = token_counter(self.model.model_id).encoding
        tokens = encoding.encode_ordinary(markdown)
        if len(tokens) <= self.max_input_tokens:
            return markdown, None
        kept = encoding.decode(tokens[: self.max_input_tokens])
        return kept, (
            f"The page's content is {len(tokens)} tokens, more than the {self.max_input_tokens} "
            "sent to the model (AGENT_MAX_EXTRACT_TOKENS), so only its beginning was used for "
            "json and summary."
        )

    async def _json(self, page: str, fmt: JsonFormat, result: Extraction) -> Any:
        schema = fmt.json_schema
        shown_schema = json.dumps(schema, indent=2, ensure_ascii=False) if schema else ""
        messages: list[Message] = [
            SystemMessage(render("extract_system", task="json", has_schema=schema is not None)),
            UserMessage(
                render(
                    "extract_page",
                    page=page,
                    task="json",
                    prompt=fmt.prompt or "",
                    schema=shown_schema,
                )
            ),
        ]
        answer = (await self._ask(messages, "json", result)).text or ""
        value, problems = check_answer(answer, schema)
        if not problems:
            return value
        messages += [
            AssistantMessage(text=answer.strip() or "(no answer)"),
            UserMessage(render("extract_retry", problems=problems, has_schema=schema is not None)),
        ]
        answer = (await self._ask(messages, "json", result)).text or ""
        value, problems = check_answer(answer, schema)
        if not problems:
            return value
        against = "the json format's schema" if schema is not None else "JSON"
        raise RequestError(
            "SCRAPE_JSON_SCHEMA_MISMATCH",
            f"The model's answer did not match {against}, also after it was shown what was "
            f"wrong: {'; '.join(problems)}. Loosen the schema (fewer required fields, nullable "
            "types), describe the fields in 'prompt', or configure a stronger model.",
            details={"problems": problems, "answer": answer[:2000]},
        )

    async def _summary(self, page: str, result: Extraction) -> str:
        messages: list[Message] = [
            SystemMessage(render("extract_system", task="summary", has_schema=False)),
            UserMessage(render("extract_page", page=page, task="summary", prompt="", schema="")),
        ]
        text = ((await self._ask(messages, "summary", result)).text or "").strip()
        if not text:
            raise RequestError(
                "MODEL_BACKEND_ERROR",
                f"The model ({self.model.model_id}) answered the summary request with no text, "
                "so there is no summary. Try again, or configure another model.",
            )
        return text

    async def _ask(
        self, messages: Sequence[Message], what: str, result: Extraction
    ) -> ModelResponse:
        try:
            response = await request_model(
                self.model, messages, tools=(), settings=self.settings, purpose=what
            )
        except ModelError as exc:
            raise RequestError(
                "MODEL_BACKEND_ERROR",
                f"The model backend failed, so the {what} format was not produced: {exc}",
                details={"provider": exc.provider, "status": exc.status},
            ) from exc
        result.usage += response.usage
        return response


def parse_json_answer(text: str) -> Any:
    """The JSON value in a model's answer, fenced (```json) or wrapped in a sentence or not.

    Raises:
        ValueError: there is no JSON value in it; the message says where parsing stopped.
    """
    text = text.strip()
    if fenced := _FENCED.match(text):
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first = exc
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if starts:
        start = min(starts)
        end = text.rfind("}" if text[start] == "{" else "]")
        if end > start:
            try:
                return json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                pass
    raise ValueError(
        f"the answer is not JSON ({first.msg} at line {first.lineno}, column {first.colno})"
    )


def check_answer(text: str, schema: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """The answer's JSON value and what is wrong with it (nothing: an empty list).

    Raises:
        RequestError: BAD_REQUEST when the schema's own ``$ref`` leads nowhere.
    """
    if not text.strip():
        return None, ["the answer was empty"]
    try:
        value = parse_json_answer(text)
    except ValueError as exc:
        return None, [str(exc)]
    if schema is None:
        return value, []
    try:
        errors = sorted(
            json_schema_validator(schema).iter_errors(value),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
    except Unresolvable as exc:  # a local $ref to nothing: the schema's fault, not the answer's
        raise RequestError(
            "BAD_REQUEST",
            f"The json format's schema has a $ref that leads nowhere ({exc}): fix it, or "
            "inline that definition under $defs.",
        ) from None
    problems = [f"at {_json_path(e.absolute_path)}: {e.message}" for e in errors]
    if len(problems) > _SHOWN_PROBLEMS:
        extra = len(problems) - _SHOWN_PROBLEMS
        problems = [*problems[:_SHOWN_PROBLEMS], f"and {extra} more"]
    return value, problems


def _json_path(path: Sequence[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
