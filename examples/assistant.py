"""A host app with pages of its own that mounts Varro Chat at /assistant, with its own tool and instructions.

    .venv/bin/python -m examples.assistant      # then open http://127.0.0.1:5001/

The lines marked `# chat` are all it takes beyond the host's own app; the rest is the host's (its home
page, its tool, its audit log). In production, serve it with `uvicorn.run(app, **uvicorn_options(settings))`
(`from app.__main__ import uvicorn_options`), which caps websocket frames at the longest valid message. Visitors are signed in as VARRO_DEMO_USER; a host with a login of its own sets
`VARRO_DEMO_USER=` and puts the signed-in user's id into the session as `user_id`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn
from fasthtml.common import A, FastHTML, P, Titled

from app.assets import asset_url  # chat
from app.launch import split_tiers  # chat
from app.mount import mount_chat  # chat
from ui.core import chat_headers  # chat
from varro.agent.agent import chat_agent  # chat
from varro.chat.events import TurnStored
from varro.config import Settings

audit = logging.getLogger("host.audit")


def forecast(city: str) -> str:
    """Tomorrow's weather in a city, from the host's own weather service."""
    return f"Tomorrow in {city}: sunny, 21 °C, a light wind from the west."


async def record(turn: TurnStored) -> None:
    """The host's audit trail: one line per stored turn."""
    audit.info("user %s chat %s turn %s: %s, %s", turn.user_id, turn.chat_id, turn.turn, turn.status, turn.meta)


settings = Settings()
key_file = Path(settings.sqlite_path or "data/varro.db").parent / ".sesskey"
key_file.parent.mkdir(parents=True, exist_ok=True)
app = FastHTML(default_hdrs=False, hdrs=chat_headers("/assistant/static", asset_url("/assistant/static")), secret_key=settings.secret_key,
               key_fname=str(key_file))
agent = chat_agent("You also know tomorrow's weather: use the forecast tool for it.", tools=[forecast])  # chat
mount_chat(app, settings, prefix="/assistant", agent=agent, on_event=record)  # chat


@app.route("/")
def home() -> object:
    return Titled("Weather desk", P("Our forecasts, and an assistant that can run Python."),
                  A("Ask the assistant", href="/assistant", data_testid="open-assistant"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    kernel_host = split_tiers(settings)  # chat: started as root, kernels get a host of their own; we drop to VARRO_USER
    try:
        uvicorn.run(app, host=settings.host, port=settings.port)
    finally:
        if kernel_host is not None:
            kernel_host.stop()
