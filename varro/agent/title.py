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


# A chat template's control tokens (ChatML, Gemma, Llama, Mistral): a small model's title may run on past its end.
_TEMPLATE = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|<(?:start|end)_of_turn>|<eos>|<bos>|\[/?INST\]")
_FENCE = re.compile(r"(```|~~~).*?(\1|$)", re.S)
_CODE_SPAN = re.compile(r"`+([^`\n]*?)`+")
_EMPHASIS = re.compile(r"(\*\*|\*|~~)(?=\S)(.+?)(?<=\S)\1")  # not `_`: it is in names (x_1, __init__)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_MATHS = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)\s*")
SYMBOLS = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π",
           "sigma": "σ", "Sigma": "Σ", "sum": "Σ", "int": "∫", "infty": "∞", "sqrt": "√", "leq": "≤", "le": "≤",
           "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "times": "×", "cdot": "·", "pm": "±", "approx": "≈",
           "to": "→", "partial": "∂", "nabla": "∇", "in": "∈"}


def _maths_as_text(tex: str) -> str:
    """Inline TeX as readable text: `\\frac{a}{b}` is a/b, `\\alpha` is α; subscripts and powers stay as written."""
    tex = _FRAC.sub(r"\1/\2", tex)
    tex = _COMMAND.sub(lambda m: SYMBOLS.get(m[1], m[1] + " "), tex)
    return tex.replace("{", "").replace("}", "").strip()


def plain_title_text(text: str) -> str:
    """Markdown, maths and chat-template tokens out of a title's text: what a reader sees, not its markup."""
    text = _TEMPLATE.split(text, maxsplit=1)[0]
    text = _MATHS.sub(lambda m: _maths_as_text(next(g for g in m.groups() if g is not None)), text)
    text = _LINK.sub(r"\1", text)
    text = _CODE_SPAN.sub(r"\1", text)
    for _ in range(2):  # nested: ***word***
        text = _EMPHASIS.sub(r"\2", text)
    return text


def for_title_model(first_message: str) -> str:
    """What the title model reads: the prose of the message, its code blocks reduced to a mark (code says little
    about what the user wants, and a small model names the chat after its first line); the code itself if there
    is nothing else."""
    prose = _FENCE.sub(" (code) ", first_message)
    return (prose if prose.replace("(code)", "").strip() else first_message)[:2000]


def quick_title(first_message: str) -> str:
    """The first line of prose in the message, trimmed: good enough until the model's title arrives."""
    text = _FENCE.sub(" ", first_message)  # code says little about the topic
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "") or "Python code"
    line = plain_title_text(line).lstrip("#>-* ").strip() or "Python code"
    if len(line) > TITLE_CHARS:
        line = line[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return clean_title(line)


async def model_title(model: Model, first_message: str, timeout_s: float = 20.0) -> str | None:
    """The model's title, or None when it fails or takes too long (the quick title then stays).

    Capped at TITLE_TOKENS, so a model that rambles cannot keep a shared server busy; streamed, so that a timeout
    or a cancel closes the connection mid-generation, which is how a server (llama-server) learns to stop.
    """
    try:
        async with asyncio.timeout(timeout_s):
            async with title_agent.run_stream(for_title_model(first_message), model=model,
                                              model_settings={"max_tokens": TITLE_TOKENS, "timeout": timeout_s}) as run:
                output = await run.get_output()
    except Exception:
        return None
    lines = [ln for ln in plain_title_text(output).splitlines() if ln.strip()]
    title = clean_title(lines[0].strip().lstrip("#>-* ").strip("\"'").rstrip(".")) if lines else ""
    return title or None
