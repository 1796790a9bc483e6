"""Choose the model from `VARRO_MODEL`: the offline demo model, or any pydantic-ai model string."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from pydantic_ai.models import Model, infer_model
from pydantic_ai.settings import ModelSettings

from varro.agent.choices import DEMO_MODEL_NAME
from varro.agent.demo import demo_model


def resolve_model(name: str, demo_tps: float, demo_gates: Path | None = None) -> Model:
    """`demo`, or a pydantic-ai model string such as `anthropic:claude-sonnet-4-5`.

    `demo:<name>` is the demo model under another name: a second offline model, to try the picker without a key.

    `openai:<name>` uses the Responses API on api.openai.com; with `OPENAI_BASE_URL` set, it uses
    Chat Completions instead, which is what OpenAI-compatible servers (llama.cpp, vLLM, Ollama) speak.
    """
    provider, _, model_name = name.partition(":")
    if provider == DEMO_MODEL_NAME:
        return demo_model(tps=demo_tps, name=model_name or DEMO_MODEL_NAME, gates=demo_gates)
    if provider == "openai" and os.environ.get("OPENAI_BASE_URL"):
        return infer_model(f"openai-chat:{model_name}")
    return infer_model(name)


def request_settings(timeout_s: float, max_tokens: int | None = None) -> ModelSettings:
    """Bound every wait on the provider, so a hung one ends in a clear error instead of a turn stuck "running".

    `timeout` is the HTTP client's per-attempt limit, which on a stream is the longest silence between two chunks;
    it does not limit a long answer that keeps coming. The wait for a request's first output, the SDK's retries
    included, is bounded by the session itself (`varro.chat.stream.NodeStreamer`, `SessionDeps.first_event_s`).
    """
    settings = ModelSettings(timeout=timeout_s)
    if max_tokens is not None:
        settings["max_tokens"] = max_tokens
    return settings


def provider_url(model: Model) -> str | None:
    """The base URL of an HTTP provider the model talks to (None for the demo and function models)."""
    url = getattr(model, "base_url", None)
    return str(url).rstrip("/") if url and model.system not in ("function", "test") else None


def served_ids(body: object) -> list[str]:
    """The model ids an OpenAI-style `GET /models` lists (`{"data": [{"id": …}, …]}`); [] when it lists none."""
    data = body.get("data") if isinstance(body, dict) else None
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)] if isinstance(data, list) else []


async def check_provider(model: Model, served: dict[str, str] | None = None, timeout_s: float = 3.0) -> str | None:
    """One line saying what is wrong with the provider, or None when it answers and serves the model.

    Asked once at start-up, so a wrong `OPENAI_BASE_URL`, a server not yet started or a wrong model name shows in
    the log at once rather than as a failed first message or a mislabelled answer. A server that answers any name
    (llama-server) but serves a single model: its name goes into `served` (our name -> the provider's), and turns
    are labelled with it.
    """
    url = provider_url(model)
    if url is None:
        return None
    try:
        async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
            resp = await client.get(url + "/models")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return f"model provider unreachable: {model.system} at {url} ({reason}); answers will fail until it is up"
    try:
        ids = served_ids(resp.json()) if resp.is_success else []
    except ValueError:
        ids = []
    name = model.model_name
    if not ids or name in ids:  # a provider that lists nothing (or no JSON) is taken at its word
        return None
    listed = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
    if len(ids) == 1 and served is not None:
        served[name] = ids[0]
        return (f"model {name!r} is not what {url} serves ({listed}): that model answers, and turns are labelled "
                "with its name; check VARRO_MODEL")
    return f"model {name!r} is not among the models {url} serves ({listed}); check VARRO_MODEL"
