"""The chat websocket `/chat/ws?chat_id=N`: parse a frame, call the session, send what it emits.

A plain Starlette endpoint rather than FastHTML's `app.ws`: we must refuse a foreign Origin before
accepting, answer malformed JSON with a fragment (FastHTML sends the raw parser error), and keep the
socket up whatever a handler raises. See docs/architecture.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fasthtml.common import A, Div, P, to_xml
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.routes import chat_renderer, chat_url
from app.state import VarroState
from ui import ids
from ui.layout import Progress
from ui.turns import ErrorBlock
from varro.chat.coalesce import Coalescer
from varro.chat.events import Event
from varro.chat.protocol import Edit, Invalid, Send, Stop, parse_frame
from varro.chat.session import Busy, ChatSession

log = logging.getLogger("varro.ws")

REPLACED = 4001  # closed because a newer tab took the session; htmx does not reconnect on 4xxx
NOT_FOUND = 4404


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """Same origin (the Origin's host:port is the Host header), or one listed in VARRO_ALLOWED_ORIGINS."""
    if not origin or origin == "null":
        return False
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host


def notice(message: str, running: bool) -> str:
    """An inline error in the notice area; unlocks the input unless a run is going on."""
    frame = to_xml(Div(ErrorBlock(message), id=ids.NOTICES, hx_swap_oob="innerHTML"))
    return frame if running else frame + to_xml(Progress("done", oob=True))


class Connection:
    """One browser tab's socket: renders and sends the session's events, in order."""

    def __init__(self, ws: WebSocket, state: VarroState, renderer: Any) -> None:
        self.ws = ws
        self.renderer = renderer
        self.coalescer = Coalescer(state.settings.stream_flush_ms, self._send_batch)

    async def _send_batch(self, events: list[Event]) -> None:
        await self.ws.send_text(self.renderer.frame(events))

    async def send(self, text: str) -> None:
        if self.ws.client_state == WebSocketState.CONNECTED:
            await self.ws.send_text(text)

    async def replaced(self, chat_url: str) -> None:
        """Tell this tab, in place, that a newer tab has the chat now; then close without reconnecting."""
        self.coalescer.close()
        msg = Div(P("This chat is open in another tab, so this one has gone quiet."),
                  A("Use it here", href=chat_url, cls="btn btn-sm", data_testid="take-back"),
                  role="alert", cls="alert alert-warning")
        try:
            await self.send(to_xml(Div(msg, id=ids.NOTICES, hx_swap_oob="innerHTML")) + to_xml(Progress("done", oob=True)))
            await self.ws.close(code=REPLACED)
        except Exception:  # already gone: nothing to tell
            pass


async def handle(session: ChatSession, raw: str, conn: Connection, max_chars: int) -> None:
    action = parse_frame(raw, max_chars)
    try:
        match action:
            case Send(msg=msg):
                session.send(msg)
            case Edit(turn=k, msg=msg):
                session.edit(k, msg)
            case Stop():
                await session.stop()
            case Invalid(reason=reason):
                await conn.send(notice(reason, session.busy))
    except Busy:
        await conn.send(notice("A reply is still being written: stop it first, or wait for it to finish.", True))
    except ValueError as exc:
        await conn.send(notice(str(exc).capitalize() + ".", session.busy))


async def chat_ws(ws: WebSocket) -> None:
    state: VarroState = ws.app.state.varro
    settings = state.settings
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins):
        await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
        return
    user_id = ws.session.get("user_id") if "session" in ws.scope else None
    chat_id = ws.query_params.get("chat_id", "")
    if not isinstance(user_id, int):
        await ws.close(code=1008)
        return
    chat = await state.store.chats.for_user(user_id).get(int(chat_id)) if chat_id.isdigit() else None
    await ws.accept()
    if chat is None:
        await ws.send_text(notice("This chat was not found. It may have been deleted.", False))
        await ws.close(code=NOT_FOUND)
        return
    conn = Connection(ws, state, chat_renderer(state, chat))
    url = chat_url(chat.id)
    session = await state.live.connect(user_id, chat.id, conn, conn.coalescer, lambda: conn.replaced(url))
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text") or message.get("bytes") or ""
            try:
                await handle(session, raw, conn, settings.max_message_chars)
            except (WebSocketDisconnect, RuntimeError):
                break
            except Exception:
                log.exception("websocket frame failed")
                await conn.send(notice("Something went wrong handling that message. Nothing stored was lost.",
                                       session.busy))
    except WebSocketDisconnect:
        pass
    finally:
        conn.coalescer.close()
        await state.live.disconnect(user_id, conn)
