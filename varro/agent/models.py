"""Choose the model from `VARRO_MODEL`: the offline demo model, or any pydantic-ai model string."""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
from pydantic_ai.models import Model, infer_model
from pydantic_ai.settings import ModelSettings

from varro.agent.demo import DEMO_MODEL_NAME, demo_model


@dataclass(frozen=True)
class ModelChoice:
    """A model the page offers: its string in `VARRO_MODELS` (what a `send` frame names) and its label."""

    key: str
    label: str


def parse_models(text: str, default: str) -> list[ModelChoice]:
    """`VARRO_MODELS`: comma-separated `model=Label` entries (the label may be left out: the model string is shown).

    The default model (`VARRO_MODEL`) is always offered: first when the list does not name it. A model named twice
    keeps its first label. Labels cannot hold a comma; a model string never does.
    """
    choices: dict[str, str] = {}
    for entry in text.split(","):
        key, _, label = (part.strip() for part in entry.partition("="))
        if key and key not in choices:
            choices[key] = label or key
    if default not in choices:
        choices = {default: "demo model (offline)" if default == DEMO_MODEL_NAME else default, **choices}
    return [ModelChoice(key, label) for key, label in choices.items()]


def resolve_model(name: str, demo_tps: float) -> Model:
    """`demo`, or a pydantic-ai model string such as `anthropic:claude-sonnet-4-5`.

    `demo:<name>` is the demo model under another name: a second offline model, to try the picker without a key.

    `openai:<name>` uses the Responses API on api.openai.com; with `OPENAI_BASE_URL` set, it uses
    Chat Completions instead, which is what OpenAI-compatible servers (llama.cpp, vLLM, Ollama) speak.
    """
    provider, _, model_name = name.partition(":")
    if provider == DEMO_MODEL_NAME:
        return demo_model(tps=demo_tps, name=model_name or DEMO_MODEL_NAME)
    if provider == "openai" and os.environ.get("OPENAI_BASE_URL"):
        return infer_model(f"openai-chat:{model_name}")
    return infer_model(name)


def request_settings(timeout_s: float, max_tokens: int | None = None) -> ModelSettings:
    """Bound every wait on the provider, so a hung one ends in a clear error instead of a turn stuck "running".

    `first_event_timeout` covers the request until its first output, SDK retries included; `timeout` is the
    HTTP client's per-attempt limit, which on a stream is the longest silence between two chunks. Neither
    limits a long answer that keeps coming.
    """
    settings = ModelSettings(timeout=timeout_s, first_event_timeout=timeout_s)
    if max_tokens is not None:
        settings["max_tokens"] = max_tokens
    return settings


def provider_url(model: Model) -> str | None:
    """The base URL of an HTTP provider the model talks to (None for the demo and function models)."""
    url = getattr(model, "base_url", None)
    return str(url).rstrip("/") if url and model.system not in ("function", "test") else None


async def check_provider(model: Model, timeout_s: float = 3.0) -> str | None:
    """One line saying the provider cannot be reached, or None when it answers (any HTTP status is an answer).

    Asked once at start-up, so a wrong `OPENAI_BASE_URL` or a server not yet started shows in the log at once rather
    than as a failed first message.
    """
    url = provider_url(model)
    if url is None:
        return None
    try:
        async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
            await client.get(url + "/models")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return f"model provider unreachable: {model.system} at {url} ({reason}); answers will fail until it is up"
    return None
