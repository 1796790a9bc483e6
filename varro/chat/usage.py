"""A turn's token usage, for stopped and failed turns too.

Providers report usage at the end of a stream (OpenAI-compatible servers in its last chunk), so a response cut
short by a stop, a dropped connection or a timeout arrives with none, although tokens were generated and paid for.
Such a response is counted from its text at about four characters a token and marked as an estimate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

CHARS_PER_TOKEN = 4


# What an image (a figure sent with a tool's result) counts as, in characters: a few hundred tokens for a model that
# reads images. Its bytes are not text the model reads: counted as such, one figure filled any context window.
IMAGE_CHARS = 1_000


def chars_of(message: ModelMessage) -> int:
    n = 0
    for part in message.parts:
        if isinstance(part, TextPart | ThinkingPart):
            n += len(part.content)
        elif isinstance(part, ToolCallPart):
            n += len(part.args if isinstance(part.args, str) else json.dumps(part.args or {}))
        elif isinstance(part, ToolReturnPart):
            n += len(part.model_response_str())
        elif isinstance(part, UserPromptPart):
            n += len(part.content) if isinstance(part.content, str) else sum(
                len(c) if isinstance(c, str) else IMAGE_CHARS for c in part.content)
    return n


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def turn_usage(history: Sequence[ModelMessage], messages: Sequence[ModelMessage], overhead: int = 0,
               tokens_of: Callable[[int], int] | None = None) -> dict[str, Any]:
    """Input and output tokens of the turn's requests: as reported, or estimated where a response has none.

    An estimate of input counts what the provider processed: `overhead` (instructions, tool schema, template) and
    the history sent, by `tokens_of` (characters to tokens: the provider's calibrated scale). A request that got no
    response at all (stopped or broken during the prompt's processing) counts as processed too: the provider did
    that work."""
    tokens = tokens_of or _tokens
    sent = sum(chars_of(m) for m in history)
    usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0}
    answered = True  # the latest request has its response
    for message in messages:
        if isinstance(message, ModelResponse):
            reported, chars = message.usage, chars_of(message)
            out, inp = reported.output_tokens, reported.input_tokens
            if not out and chars:
                out, usage["estimated"] = tokens(chars), True
            if not inp:
                inp, usage["estimated"] = overhead + tokens(sent), True
            usage["input_tokens"] += inp
            usage["output_tokens"] += out
            answered = True
        if isinstance(message, ModelRequest | ModelResponse):
            sent += chars_of(message)
        if isinstance(message, ModelRequest):
            answered = False
    if not answered:
        usage["input_tokens"] += overhead + tokens(sent)
        usage["estimated"] = True
    return usage
