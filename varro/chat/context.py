"""Keep what the model is sent within its context window (`VARRO_CONTEXT_TOKENS`).

Tokens are estimated from characters (about three to a token: cautious, so that code and JSON fit too), with room
kept for the instructions, the tool's schema and the answer. Whole turns are left out, oldest first; the stored chat
keeps them. A message that cannot fit even alone is refused before anything is sent.
"""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart

from varro.chat.usage import chars_of

CHARS_PER_TOKEN = 3
OVERHEAD_TOKENS = 700  # instructions, the run_python schema, and the chat template's own markup


class ContextFull(Exception):
    """The message alone is too long for the model's context window."""

    def __init__(self, need: int, window: int) -> None:
        self.need, self.window = need, window
        super().__init__(f"this message needs about {need} tokens of a {window}-token context window")


def _tokens(messages: list[ModelMessage]) -> int:
    return sum(chars_of(m) for m in messages) // CHARS_PER_TOKEN


def _turn_starts(history: list[ModelMessage]) -> list[int]:
    """Where each turn begins: a request that opens with the user's words (not a tool's results)."""
    return [i for i, m in enumerate(history)
            if isinstance(m, ModelRequest) and m.parts and isinstance(m.parts[0], UserPromptPart)]


def answer_room(window: int, max_tokens: int | None) -> int:
    return max_tokens if max_tokens is not None else window // 4


def fit(history: list[ModelMessage], prompt: str, window: int, max_tokens: int | None) -> tuple[list[ModelMessage], int]:
    """The newest turns of `history` that fit beside `prompt` and the answer; and how many turns were left out."""
    budget = window - OVERHEAD_TOKENS - answer_room(window, max_tokens) - len(prompt) // CHARS_PER_TOKEN
    if budget < 0:
        raise ContextFull(window - budget, window)
    starts = _turn_starts(history)
    for dropped, start in enumerate([0, *starts[1:]] if starts else [0]):
        kept = history[start:]
        if _tokens(kept) <= budget:
            return kept, dropped
    return [], len(starts)
