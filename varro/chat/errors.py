"""Turn an exception from a run into one clear sentence for the user, in the provider's own words where it gave any.

The wording tells the user what helps: waiting (rate limit, overload, a dropped connection), nothing but a change
(a refused request, a context overflow), or checking the provider (a hang, an unreachable server).
"""

from __future__ import annotations

import re

from pydantic_ai.exceptions import (
    IncompleteToolCall,
    ModelAPIError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelTimeoutError,
    ModelUnavailableError,
    OutputTokenLimitExceeded,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)

from varro.chat.context import ContextFull

PROVIDER_WORDS = 300  # characters of the provider's message shown; its error bodies can be long
# Servers that report an overflow without a code of their own (llama.cpp, vLLM, Ollama) say so in words.
OVERFLOW = re.compile(r"context (size|length|window)|maximum context|exceeds? .*context|too many tokens", re.I)
IMAGES = re.compile(r"image input is not supported|does not support (image|vision)|image.*not supported", re.I)


def provider_message(exc: BaseException) -> str:
    """What the provider itself said, from its error body (`{"error": {"message": …}}` or `{"message": …}`)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        said = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(said, str) and said.strip():
            text = " ".join(said.split())
            return text if len(text) <= PROVIDER_WORDS else text[: PROVIDER_WORDS - 1] + "…"
    if isinstance(body, str) and body.strip():
        return " ".join(body.split())[:PROVIDER_WORDS]
    return ""


def refuses_images(exc: BaseException) -> bool:
    """The provider refused a request because it carried an image the model cannot read."""
    return isinstance(exc, ModelAPIError) and bool(IMAGES.search(provider_message(exc) or str(exc)))


def overflows_context(exc: BaseException) -> bool:
    if isinstance(exc, ModelContextWindowExceededError):
        return True
    return isinstance(exc, ModelHTTPError) and bool(OVERFLOW.search(provider_message(exc)))


def _said(exc: BaseException) -> str:
    words = provider_message(exc)
    return f": “{words.rstrip('.')}”." if words else "."


def _status(exc: BaseException) -> str:
    return f" (HTTP {exc.status_code})" if isinstance(exc, ModelHTTPError) else ""


def describe(exc: BaseException) -> str:
    if isinstance(exc, ContextFull):
        return (f"This message is too long for the model's context window (about {exc.need} tokens of "
                f"{exc.window}), so it was not sent. Shorten it, or split it in parts.")
    if isinstance(exc, ModelRequestTimeout):
        return (f"The model provider did not answer within {exc.timeout:g} s: it may be hung or overloaded. "
                "Check the server, then send the message again.")
    if isinstance(exc, ModelTimeoutError):
        return ("The model provider did not answer in time (it went silent): it may be hung or "
                "overloaded. Check the server, then send the message again.")
    if isinstance(exc, ModelRateLimitError):
        return f"The model provider is rate limiting us{_status(exc)}{_said(exc)} Wait a moment and try again."
    if overflows_context(exc):
        return (f"The conversation is too long for the model's context window{_status(exc)}{_said(exc)} "
                "Start a new chat, or edit an earlier message to drop what follows it.")
    if isinstance(exc, ModelConnectionError):
        return "The connection to the model provider failed or broke off mid-answer. Try again in a moment."
    if isinstance(exc, ModelUnavailableError):
        return f"The model provider is unavailable or overloaded{_status(exc)}{_said(exc)} Try again in a moment."
    if isinstance(exc, ModelRequestRejectedError) or (isinstance(exc, ModelHTTPError) and exc.status_code < 500):
        return f"The model provider refused the request{_status(exc)}{_said(exc)} Sending it again unchanged will not help."
    if isinstance(exc, ModelHTTPError):
        return f"The model provider failed{_status(exc)}{_said(exc)}"
    if isinstance(exc, ModelAPIError):
        return f"The model provider failed: {exc.message}"
    if isinstance(exc, UsageLimitExceeded):
        if "request_limit" in str(exc):
            return ("The model kept calling tools, so this answer was stopped at the limit of model requests per "
                    "answer (VARRO_MODEL_REQUESTS). Ask again, more narrowly, or raise the limit.")
        return f"This answer hit a usage limit: {exc}"
    # pydantic-ai's own message for these is advice to developers ("Increase the `max_tokens` model setting").
    if isinstance(exc, IncompleteToolCall):
        return ("The model ran out of room for this answer (its limit of tokens per answer) while writing code to run, "
                "so the code was cut off and not run. Ask for a smaller step, or ask it to write less code at once.")
    if isinstance(exc, OutputTokenLimitExceeded):
        return ("The model used up its limit of tokens per answer before writing anything to show. Ask again more "
                "briefly, or in smaller steps.")
    if isinstance(exc, UnexpectedModelBehavior):
        return f"The model answered in a way we could not use: {exc.message}"
    if isinstance(exc, TimeoutError):
        return "The model provider did not answer in time."
    return f"Something went wrong while answering ({type(exc).__name__}). Earlier messages are safe."
