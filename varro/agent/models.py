"""Choose the model from `VARRO_MODEL`: the offline demo model, or any pydantic-ai model string."""

from __future__ import annotations

import os

from pydantic_ai.models import Model, infer_model

from varro.agent.demo import demo_model


def resolve_model(name: str, demo_tps: float) -> Model:
    """`demo`, or a pydantic-ai model string such as `anthropic:claude-sonnet-4-5`.

    `openai:<name>` uses the Responses API on api.openai.com; with `OPENAI_BASE_URL` set, it uses
    Chat Completions instead, which is what OpenAI-compatible servers (llama.cpp, vLLM, Ollama) speak.
    """
    if name == "demo":
        return demo_model(tps=demo_tps)
    provider, _, model_name = name.partition(":")
    if provider == "openai" and os.environ.get("OPENAI_BASE_URL"):
        return infer_model(f"openai-chat:{model_name}")
    return infer_model(name)


def reads_images(model: Model) -> bool:
    return bool(model.profile.get("supports_image_input")) and model.system != "function"
