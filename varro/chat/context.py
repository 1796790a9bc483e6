"""Keep what the model is sent within its context window (`VARRO_CONTEXT_TOKENS`).

Tokens are estimated from characters, on a scale each provider calibrates (`TokenScale`): before it has said
anything, about three characters to a token (cautious, so that code and JSON fit too); then from its own counts —
a `/tokenize` endpoint where it has one (llama-server), and the input tokens each response reports — with a margin.
Room is kept for the instructions, the tool's schema and the chat template's markup (learned too, once a request
of a known size is answered) and for the answer. Whole turns are left out, oldest first; the stored chat keeps
them. A message that cannot fit even alone is refused before anything is sent. Between the steps of a tool loop
every request is fitted again (`FitRequests`): earlier turns, then the oldest outputs of this turn, are left out
of what is sent, so a loop cannot grow past the window.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolReturnPart, UserPromptPart
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.tools import RunContext

from varro.chat.usage import chars_of

CHARS_PER_TOKEN = 3  # before the provider has counted anything
OVERHEAD_TOKENS = 700  # instructions, the run_python schema, and the chat template's own markup (until learned)
PART_TOKENS = 6  # the template's markup around each part: role, tool-call and tool-result wrappers
MARGIN = 0.9  # a calibrated scale still counts a tenth more tokens than the provider's own figures say
LEFT_OUT = "[output left out of what the model reads: the context window is full]"

log = logging.getLogger("varro.chat")


class ContextFull(Exception):
    """The message alone is too long for the model's context window."""

    def __init__(self, need: int, window: int) -> None:
        self.need, self.window = need, window
        super().__init__(f"this message needs about {need} tokens of a {window}-token context window")


@dataclass
class TokenScale:
    """Characters to tokens for one provider, calibrated by the counts it gives."""

    chars: int = 0  # characters the provider has counted, and the tokens it counted them as
    tokens: int = 0
    overhead: int = OVERHEAD_TOKENS
    overhead_learned: bool = False
    tokenize_url: str | None = None  # llama-server's `POST /tokenize`; None once it is known to be missing
    checked_tokenize: bool = False

    @property
    def chars_per_token(self) -> float:
        if self.tokens < 50:  # too little counted to trust
            return CHARS_PER_TOKEN
        return max(1.5, min(8.0, self.chars / self.tokens * MARGIN))

    def of(self, chars: int) -> int:
        return -int(-chars // self.chars_per_token)

    def of_messages(self, messages: list[ModelMessage]) -> int:
        return sum(self.of(chars_of(m)) + PART_TOKENS * len(m.parts) for m in messages)

    def observe(self, chars: int, tokens: int) -> None:
        if chars > 0 and tokens > 0:
            self.chars += chars
            self.tokens += tokens

    def observe_request(self, messages: list[ModelMessage], input_tokens: int, exact: dict[int, int]) -> None:
        """A response reported `input_tokens` for `messages`: learn the fixed overhead from a request whose text was
        counted exactly (`exact`: chars of a message -> its tokens, from `/tokenize`), and the scale from the rest."""
        if input_tokens <= 0:
            return
        parts = sum(len(m.parts) for m in messages)
        sizes = [chars_of(m) for m in messages]
        if all(s in exact for s in sizes):
            self.overhead = max(0, input_tokens - sum(exact[s] for s in sizes) - PART_TOKENS * parts)
            self.overhead_learned = True
        elif self.overhead_learned:
            self.observe(sum(sizes), input_tokens - self.overhead - PART_TOKENS * parts)

    async def count(self, text: str) -> int | None:
        """The provider's own count of `text`, where it has a `/tokenize` endpoint; learned from as well."""
        if self.tokenize_url is None:
            return None
        try:
            async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
                resp = await client.post(self.tokenize_url, json={"content": text})
            tokens = resp.json().get("tokens") if resp.is_success else None
        except (httpx.HTTPError, ValueError, AttributeError):
            tokens = None
        if not isinstance(tokens, list):
            if not self.checked_tokenize:
                self.tokenize_url = None  # the provider has none: estimates only, and no more asking
            return None
        self.checked_tokenize = True
        self.observe(len(text), len(tokens))
        return len(tokens)


def _turn_starts(history: list[ModelMessage]) -> list[int]:
    """Where each turn begins: a request that opens with the user's words (not a tool's results)."""
    return [i for i, m in enumerate(history)
            if isinstance(m, ModelRequest) and m.parts and isinstance(m.parts[0], UserPromptPart)]


def answer_room(window: int, max_tokens: int | None) -> int:
    return max_tokens if max_tokens is not None else window // 4


def fit(history: list[ModelMessage], prompt: str, window: int, max_tokens: int | None,
        scale: TokenScale | None = None, prompt_tokens: int | None = None) -> tuple[list[ModelMessage], int]:
    """The newest turns of `history` that fit beside `prompt` and the answer; and how many turns were left out.
    `prompt_tokens`: the provider's own count of the prompt, where it gave one."""
    scale = scale or TokenScale()
    need = prompt_tokens if prompt_tokens is not None else scale.of(len(prompt))
    budget = window - scale.overhead - answer_room(window, max_tokens) - need - PART_TOKENS
    if budget < 0:
        raise ContextFull(window - budget, window)
    starts = _turn_starts(history)
    for dropped, start in enumerate([0, *starts[1:]] if starts else [0]):
        kept = history[start:]
        if scale.of_messages(kept) <= budget:
            return kept, dropped
    return [], len(starts)


def _without_output(message: ModelMessage) -> ModelMessage:
    """`message` with its tool outputs replaced by a short note (a copy: the stored one keeps them)."""
    if not isinstance(message, ModelRequest):
        return message
    parts = [ToolReturnPart(p.tool_name, LEFT_OUT, p.tool_call_id, timestamp=p.timestamp)
             if isinstance(p, ToolReturnPart) else p for p in message.parts]
    return dataclasses.replace(message, parts=parts)


def fit_request(messages: list[ModelMessage], window: int, max_tokens: int | None,
                scale: TokenScale) -> list[ModelMessage]:
    """A request of a tool loop, within the window: earlier turns out first, then this turn's oldest tool outputs
    (the calls stay, so the model sees what it ran); raises `ContextFull` when even that is too much."""
    budget = window - scale.overhead - answer_room(window, max_tokens)
    if scale.of_messages(messages) <= budget:
        return messages
    starts = _turn_starts(messages)
    kept = messages[starts[-1]:] if starts else list(messages)
    for i in range(len(kept)):  # oldest first: the last request holds the newest outputs, left out only if need be
        if scale.of_messages(kept) <= budget:
            break
        kept[i] = _without_output(kept[i])
    need = scale.of_messages(kept)
    if need > budget:
        raise ContextFull(need + scale.overhead + answer_room(window, max_tokens), window)
    return kept


@dataclass
class FitRequests(AbstractCapability[Any]):
    """Fits every request of a run to the window, and calibrates the scale from the input tokens each reports."""

    window: int
    max_tokens: int | None
    scale: TokenScale
    exact: dict[int, int] = field(default_factory=dict)  # a message's characters -> its tokens, counted exactly
    sent: dict[int, list[ModelMessage]] = field(default_factory=dict)

    async def before_model_request(self, ctx: RunContext[Any], request_context: ModelRequestContext) -> ModelRequestContext:
        messages = fit_request(list(request_context.messages), self.window, self.max_tokens, self.scale)
        request_context.messages = messages  # what is sent; the run's own history (and so the stored turn) is whole
        self.sent[id(request_context)] = messages
        return request_context

    async def after_model_request(self, ctx: RunContext[Any], *, request_context: ModelRequestContext,
                                  response: ModelResponse) -> ModelResponse:
        sent = self.sent.pop(id(request_context), None)
        if sent is not None and response.usage.input_tokens:
            self.scale.observe_request(sent, response.usage.input_tokens, self.exact)
        return response
