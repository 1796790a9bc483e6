"""Whether the model is sent the figures the shell draws, and a history without them for a model that reads none.

`VARRO_MODEL_IMAGES`: `on` always sends them, `off` never does, `auto` asks the model's pydantic-ai profile and,
because an `openai:` model behind `OPENAI_BASE_URL` may be any local model, believes the server when it refuses a
request that carries an image (the session then retries without them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic_ai.messages import BinaryContent, ImageUrl, ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import Model

ImagesMode = Literal["auto", "on", "off"]
NOT_SENT = "[A figure was shown to the user here. It is not sent: this model reads text only.]"


def reads_images(model: Model) -> bool:
    return bool(model.profile.get("supports_image_input")) and model.system != "function"


def sends_images(mode: ImagesMode, model: Model) -> bool:
    if mode == "off":
        return False
    return model.system != "function" if mode == "on" else reads_images(model)


def _is_image(item: object) -> bool:
    return isinstance(item, ImageUrl) or (isinstance(item, BinaryContent) and item.is_image)


def has_images(messages: list[ModelMessage]) -> bool:
    return any(isinstance(p, UserPromptPart) and not isinstance(p.content, str) and any(map(_is_image, p.content))
               for m in messages if isinstance(m, ModelRequest) for p in m.parts)


def without_images(messages: list[ModelMessage]) -> list[ModelMessage]:
    """The same history with every image replaced by a line saying one was shown (the stored turns keep them)."""
    out: list[ModelMessage] = []
    for m in messages:
        if isinstance(m, ModelRequest) and has_images([m]):
            parts = [replace(p, content=[NOT_SENT if _is_image(c) else c for c in p.content])
                     if isinstance(p, UserPromptPart) and not isinstance(p.content, str) else p for p in m.parts]
            m = replace(m, parts=parts)
        out.append(m)
    return out
