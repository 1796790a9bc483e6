"""Mount the chat module into a FastHTML app: routes, websocket, static files, Beforeware, lifespan."""

from __future__ import annotations

from fasthtml.common import FastHTML
from starlette.routing import Mount, WebSocketRoute

from app.assets import ASSETS, Compressed
from app.auth import chat_beforeware
from app.routes import chat_router
from app.security import HEADERS, SecurityHeaders
from app.share import share_router
from app.sidebar import sidebar_router
from app.state import close_state, open_state
from app.unavailable import OUTAGES, service_unavailable
from app.urls import DEFAULT_PREFIX, ChatUrls
from app.ws import chat_ws
from varro.agent.agent import ChatAgent, agent, has_shell
from varro.chat.session import OnEvent
from varro.config import Settings


def mount_chat(
    app: FastHTML,
    settings: Settings | None = None,
    headers: dict[str, str] | None = None,
    *,
    prefix: str = DEFAULT_PREFIX,
    agent: ChatAgent = agent,
    on_event: OnEvent | None = None,
) -> None:
    """Add the chat under `prefix` to `app`; its state lives on `app.state.varro` while the app runs.

    `headers` go on every response under `prefix` (default: `app.security.HEADERS`, a strict
    Content-Security-Policy); a host that sets its own policy passes `{}`, and its policy must then allow
    what the chat page loads. The page's <head> comes from `ui.core.chat_headers(f"{prefix}/static")` (with
    `asset=app.assets.asset_url(f"{prefix}/static")`, its files come under content-hashed URLs cached for a year).
    `agent` is the assistant (`varro.agent.agent.chat_agent(...)`: `run_python` plus the host's instructions
    and tools); `on_event` is awaited with a `TurnStored` each time a turn is written.
    """
    if not has_shell(agent):
        raise ValueError("the chat's agent needs the run_python tool: build it with varro.agent.agent.chat_agent()")
    settings = settings or Settings()
    urls = ChatUrls(prefix)
    app.before.append(chat_beforeware(prefix))
    app.add_middleware(SecurityHeaders, prefix=prefix, headers=HEADERS if headers is None else headers)
    app.add_middleware(Compressed, prefix=prefix)
    # Static files and the socket go first: the router matches in order.
    app.router.routes.insert(0, Mount(urls.static, ASSETS, name="chat-static"))
    app.router.routes.insert(1, WebSocketRoute(urls.socket, chat_ws, name="chat-ws"))
    chat_router(urls).to_app(app)
    sidebar_router(urls).to_app(app)
    share_router(urls).to_app(app)
    for outage in OUTAGES:
        app.add_exception_handler(outage, service_unavailable)

    async def startup() -> None:
        app.state.varro = await open_state(settings, urls, agent, on_event)

    async def shutdown() -> None:
        await close_state(app.state.varro)

    app.on_event("startup")(startup)
    app.on_event("shutdown")(shutdown)
