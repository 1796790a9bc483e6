"""The models the page offers (`VARRO_MODEL`, `VARRO_MODELS`), as the settings read them: names and labels only.

Apart from varro/agent/models.py, which makes the models, so that reading the settings imports no model client
(`python -m app` reads them, and starts its kernel host, before it imports the rest of the app).
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_MODEL_NAME = "demo"


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
