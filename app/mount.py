"""Mount the chat module into a FastHTML app: routes, websocket, static files, Beforeware, lifespan."""

from __future__ import annotations

from pathlib import Path

from fasthtml.common import FastHTML
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app.auth import chat_beforeware
from app.routes import ar
from app.security import HEADERS, SecurityHeaders
from app.state import close_state, open_state
from app.ws import chat_ws
from varro.config import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def mount_chat(app: FastHTML, settings: Settings | None = None, headers: dict[str, str] | None = None) -> None:
    """Add the chat under `/chat` to `app`; its state lives on `app.state.varro` while the app runs.

    `headers` go on every `/chat` response (default: `app.security.HEADERS`, a strict Content-Security-Policy);
    a host that sets its own policy passes `{}`, and its policy must then allow what the chat page loads.
    """
    settings = settings or Settings()
    app.before.append(chat_beforeware("/chat"))
    app.add_middleware(SecurityHeaders, prefix="/chat", headers=HEADERS if headers is None else headers)
    # Static files and the socket go first: the router matches in order.
    app.router.routes.insert(0, Mount("/chat/static", StaticFiles(directory=STATIC_DIR), name="chat-static"))
    app.router.routes.insert(1, WebSocketRoute("/chat/ws", chat_ws, name="chat-ws"))
    ar.to_app(app)

    async def startup() -> None:
        app.state.varro = await open_state(settings)

    async def shutdown() -> None:
        await close_state(app.state.varro)

    app.on_event("startup")(startup)
    app.on_event("shutdown")(shutdown)
