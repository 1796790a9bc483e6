"""Turn an exception from a run into one clear sentence for the user."""

from __future__ import annotations

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestTimeout,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ModelRequestTimeout):
        return f"The model provider did not answer within {exc.timeout:g} s. Try again in a moment."
    if isinstance(exc, ModelRateLimitError):
        return "The model provider is rate limiting us (HTTP 429). Wait a moment and try again."
    if isinstance(exc, ModelConnectionError):
        return "The connection to the model provider failed or broke off mid-answer. Try again in a moment."
    if isinstance(exc, ModelHTTPError):
        return f"The model provider returned an error (HTTP {exc.status_code}). Try again in a moment."
    if isinstance(exc, ModelAPIError):
        return f"The model provider failed: {exc.message}"
    if isinstance(exc, UsageLimitExceeded):
        return f"This answer hit a usage limit: {exc}"
    if isinstance(exc, UnexpectedModelBehavior):
        return f"The model answered in a way we could not use: {exc.message}"
    if isinstance(exc, TimeoutError):
        return "The model provider did not answer in time."
    return f"Something went wrong while answering ({type(exc).__name__}). Earlier messages are safe."
