"""The chat websocket `{prefix}/ws?chat_id=N`: parse a frame, call the session, send what it emits.

A plain Starlette endpoint rather than FastHTML's `app.ws`: we must refuse a foreign Origin before
accepting, answer malformed JSON with a fragment (FastHTML sends the raw parser error), and keep the
socket up whatever a handler raises. See docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import logging
import time

from fasthtml.common import A, Div, P, to_xml
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.csrf import origin_allowed
from app.routes import chat_renderer, earlier_url
from app.state import VarroState
from app.turn_window import batch, with_markers
from app.unavailable import MESSAGE
from ui import ids
from ui.header import ShellStatus
from ui.layout import Progress
from ui.turns import ErrorBlock, LoadEarlier
from varro.chat.coalesce import Coalescer
from varro.chat.events import Event
from varro.chat.protocol import Edit, Hello, Invalid, Reset, Send, Stop, parse_frame, parse_index
from varro.chat.session import Busy, ChatSession
from varro.chat.trace import StreamTrace
from varro.db.models import Chat
from varro.scale.coordinator import Unavailable

log = logging.getLogger("varro.ws")

REPLACED = 4001  # closed because a newer tab took the session; htmx does not reconnect on 4xxx
NOT_FOUND = 4404
UNAVAILABLE = 1013  # "try again later": the service holding who has which session (Redis) can't be reached
FLOODED = 4429  # closed because the user's sockets sent frames faster than VARRO_WS_FRAMES_PER_S allows
REPLACED_SAME = "This chat is open in another tab, so this one has gone quiet."
REPLACED_OTHER = ("You opened another chat in a newer tab, so this one has gone quiet. An answer it was writing "
                  "goes on to its end; come back to this chat to see it.")
FLOOD_MESSAGE = "Too many messages too quickly, so this connection was closed. Reload the page to continue."


def notice(message: str, running: bool, keep_draft: bool = False) -> str:
    """An inline error in the notice area; unlocks the input unless a run is going on. `keep_draft`: the page puts
    the message it sent back in the input (`data-refused`)."""
    block = Div(ErrorBlock(message), data_refused="true") if keep_draft else ErrorBlock(message)
    frame = to_xml(Div(block, id=ids.NOTICES, hx_swap_oob="innerHTML"))
    return frame if running else frame + to_xml(Progress("idle", oob=True))


class Flooded(Exception):
    """The user spent their budget: the socket is closed with FLOODED."""


class Connection:
    """One browser tab's socket: parses its frames, renders and sends the session's events in order.

    It is a `Tab` of the live-session registry: `deliver`, `catch_up`, `replaced`.
    """

    def __init__(self, ws: WebSocket, state: VarroState, user_id: int, chat: Chat) -> None:
        self.ws = ws
        self.state = state
        self.user_id = user_id
        self.chat_url = state.urls.page(chat.id)
        self.renderer = chat_renderer(state, chat)
        self.coalescer = Coalescer(state.settings.stream_flush_ms, self._send_batch, self._send_text)
        self.session: ChatSession | None = None
        self._stored_html = ""  # stored turns the page lacks, sent ahead of the catch-up
        self._page_running = False  # the page showed a run going on when it said hello
        self.trace = StreamTrace(state.trace, chat.id) if state.trace is not None else None

    async def _send_batch(self, events: list[Event]) -> None:
        if self.trace is None:
            await self.ws.send_text(self.renderer.frame(events))
            return
        started = time.perf_counter()
        frame = self.renderer.frame(events)
        self.trace.sent(frame, events, time.perf_counter() - started)
        await self.ws.send_text(frame)

    async def _send_text(self, text: str) -> None:
        if self.trace is not None:
            self.trace.sent(text)
        await self.ws.send_text(text)

    async def send(self, text: str) -> None:
        if self.ws.client_state == WebSocketState.CONNECTED:
            await self._send_text(text)

    async def deliver(self, event: Event) -> None:
        if self.trace is not None:
            self.trace.received(event)
        await self.coalescer(event)

    async def catch_up(self, events: list[Event], running: bool) -> None:
        html, self._stored_html = self._stored_html, ""
        if self._page_running and not running:
            # The page shows a run its last socket saw, which a server restart ended: the status line goes idle
            # (after the catch-up's own events) and the input unlocks, with no reload.
            html += self.renderer.frame(events) + to_xml(Progress("idle", oob=True), indent=False) + self._shell_html()
        elif events:
            html += self.renderer.frame(events)
        if html:
            await self.coalescer.prime_html(html)

    def _shell_html(self) -> str:
        live = self.state.live.get(self.user_id)
        return to_xml(ShellStatus(live.session.shell.status, oob=True), indent=False) if live is not None else ""

    async def replaced(self, same_chat: bool) -> None:
        """Tell this tab, in place, that a newer tab took over and what it did; then close without reconnecting."""
        self.coalescer.close()
        said = (REPLACED_SAME if same_chat else REPLACED_OTHER)
        msg = Div(P(said), A("Use it here", href=self.chat_url, cls="btn btn-sm", data_testid="take-back"),
                  role="alert", cls="alert alert-warning", data_testid="replaced")
        try:
            await self.send(to_xml(Div(msg, id=ids.NOTICES, hx_swap_oob="innerHTML")) + to_xml(Progress("idle", oob=True)))
            await self.ws.close(code=REPLACED)
        except Exception:  # already gone: nothing to tell
            pass

    async def hello(self, session: ChatSession, known: int, running: bool) -> None:
        """The page shows the finished turns below `known` (and a run, if `running`): send it what it lacks, then
        go live. More than a batch lacking, or turns removed elsewhere (an edit in another tab): the page is
        redrawn with the latest batch, and the rest comes as the user scrolls up (app/turn_window.py)."""
        self._page_running = running
        end = await session.turns.end()
        resets = await session.turns.shell_resets()
        if known != end and not self.state.hellos.take(self.user_id):
            raise Flooded  # each catch-up can be a batch's HTML: a budget of its own, per user
        window = await batch(self.state.turn_html, session.turns, end, start=0 if known > end else known)
        if known > end or window.start > known:
            earlier = earlier_url(self.state.urls, session.chat_id, window)
            self._stored_html = to_xml(Div(*with_markers(window, resets), id=ids.TURNS, hx_swap_oob="innerHTML"),
                                       indent=False) + to_xml(LoadEarlier(earlier, oob=True), indent=False)
        elif fresh := with_markers(window, resets):
            self._stored_html = to_xml(Div(*fresh, id=ids.TURNS, hx_swap_oob="beforeend"), indent=False)
        await self.state.live.attach(self.user_id, self, end)

    async def refused(self, session: ChatSession) -> bool:
        """Past the user's cap on runs at once: say so (the page unlocks, the draft stays) and start nothing."""
        why = None if session.busy else self.state.live.refusal(self.user_id)  # busy: `Busy` says it better
        if why is not None:
            await self.send(notice(why, False, keep_draft=True))
        return why is not None

    async def handle(self, session: ChatSession, raw: str | bytes) -> None:
        try:
            match parse_frame(raw, self.state.settings.max_message_chars, session.deps.models):
                case Send(msg=msg) as sent:
                    if not await self.refused(session):
                        # With a picker on the page, a send without a model (an example prompt) gets the default.
                        session.send(msg, sent.file_names, sent.model or self.state.default_model_key)
                case Edit(turn=k, msg=msg):
                    if not await self.refused(session):
                        session.edit(k, msg)
                case Stop():
                    await session.stop()
                case Reset():
                    session.reset_shell()
                case Hello(known=known, running=running):
                    await self.hello(session, known, running)
                case Invalid(reason=reason, keep_draft=keep_draft):
                    await self.send(notice(reason, session.busy, keep_draft))
        except Busy:
            await self.send(notice("A reply is still being written: stop it first, or wait for it to finish.", True))
        except ValueError as exc:
            await self.send(notice(str(exc).capitalize() + ".", session.busy))


async def close_flooded(ws: WebSocket, user_id: int) -> None:
    """Tell the tab why, and close with 4429; the user's budget refills at VARRO_WS_FRAMES_PER_S."""
    log.warning("closing a flooding socket of user %s", user_id)
    with contextlib.suppress(Exception):  # it may be gone already; we are leaving either way
        if ws.client_state == WebSocketState.CONNECTED:
            await ws.send_text(notice(FLOOD_MESSAGE, False))
        await ws.close(code=FLOODED, reason="too many frames")


async def chat_ws(ws: WebSocket) -> None:
    state: VarroState = ws.app.state.varro
    settings = state.settings
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins):
        await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
        return
    user_id = ws.session.get("user_id") if "session" in ws.scope else None
    chat_id = parse_index(ws.query_params.get("chat_id", ""))
    if not isinstance(user_id, int):
        await ws.close(code=1008)
        return
    if not state.frames.take(user_id):  # opening a socket spends from the user's budget too: reconnect loops end
        await ws.accept()
        await close_flooded(ws, user_id)
        return
    chat = await state.store.chats.for_user(user_id).get(chat_id) if chat_id is not None else None
    await ws.accept()
    if chat is None:
        await ws.send_text(notice("This chat was not found. It may have been deleted.", False))
        await ws.close(code=NOT_FOUND)
        return
    conn = Connection(ws, state, user_id, chat)
    try:
        session = await state.live.connect(user_id, chat.id, conn)
    except Unavailable:
        log.warning("no session for user %s: Redis is unreachable", user_id)
        await ws.send_text(notice(MESSAGE, False))
        await ws.close(code=UNAVAILABLE)
        return
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not state.frames.take(user_id):
                # Only this socket goes; a run it started carries on and is stored, as after any drop.
                await close_flooded(ws, user_id)
                break
            try:
                await conn.handle(session, message.get("text") or message.get("bytes") or "")
            except (WebSocketDisconnect, RuntimeError):
                break
            except Flooded:
                await close_flooded(ws, user_id)
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
