"""Chat titles: a quick one from the first message at once, refined by the model in the background."""

from __future__ import annotations

import asyncio
import re

from pydantic_ai import Agent
from pydantic_ai.models import Model

from varro.db.crud.chat import clean_title

TITLE_CHARS = 60
TITLE_TOKENS = 24  # six words and some slack

title_agent: Agent[None, str] = Agent(
    instructions=(
        "Write a short title (at most six words, no quotes, no trailing punctuation) for a chat that "
        "starts with the user's message below. Reply with the title only."
    ),
    name="varro-title",
)


def quick_title(first_message: str) -> str:
    """The first line of prose in the message, trimmed: good enough until the model's title arrives."""
    text = re.sub(r"```.*?(```|$)", " ", first_message, flags=re.S)  # code says little about the topic
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "") or "Python code"
    line = line.lstrip("#>-* ").strip() or "Python code"
    if len(line) > TITLE_CHARS:
        line = line[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return clean_title(line)


async def model_title(model: Model, first_message: str, timeout_s: float = 20.0) -> str | None:
    """The model's title, or None when it fails or takes too long (the quick title then stays).

    Capped at TITLE_TOKENS, so a model that rambles cannot keep a shared server busy; a timeout or a cancel closes
    the connection, which is how a server learns to stop generating.
    """
    try:
        async with asyncio.timeout(timeout_s):
            result = await title_agent.run(first_message[:2000], model=model,
                                           model_settings={"max_tokens": TITLE_TOKENS, "timeout": timeout_s})
    except Exception:
        return None
    title = clean_title(result.output.strip().strip("\"'").rstrip("."))
    return title or None
