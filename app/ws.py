"""The chat websocket `{prefix}/ws?chat_id=N`: parse a frame, call the session, send what it emits.

A plain Starlette endpoint rather than FastHTML's `app.ws`: we must refuse a foreign Origin before
accepting, answer malformed JSON with a fragment (FastHTML sends the raw parser error), and keep the
socket up whatever a handler raises. See docs/architecture.md.
"""

from __future__ import annotations

import logging
import time

from fasthtml.common import A, Div, P, to_xml
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.csrf import origin_allowed
from app.refusals import close_over, notice
from app.routes import chat_renderer, earlier_url
from app.state import VarroState
from app.turn_window import PAGE_TURNS, Window, batch, from_turn, with_markers
from app.unavailable import MESSAGE
from ui import ids
from ui.header import ShellStatus
from ui.layout import Progress
from ui.turns import LoadEarlier
from varro.chat.coalesce import Coalescer
from varro.chat.events import Event
from varro.chat.protocol import Edit, Hello, Invalid, Rerun, Reset, Run, Send, Stop, Switch, parse_frame, parse_index
from varro.chat.ratelimit import Over
from varro.chat.session import Busy, ChatSession, Refused
from varro.chat.trace import StreamTrace
from varro.db.models import Chat
from varro.scale.coordinator import Unavailable
from varro.shell.host import HostLost

log = logging.getLogger("varro.ws")

REPLACED = 4001  # closed because a newer tab took the session; htmx does not reconnect on 4xxx
NOT_FOUND = 4404
UNAVAILABLE = 1013  # "try again later": the service holding who has which session (Redis) can't be reached
# Closes for going past a budget (4429 and up) are in app/refusals.py.
REPLACED_SAME = "This chat is open in another tab, so this one has gone quiet."
REPLACED_OTHER = ("You opened another chat in a newer tab, so this one has gone quiet. An answer it was writing "
                  "goes on to its end; come back to this chat to see it.")


FAILED = "Something went wrong handling that message. Nothing stored was lost."


class Flooded(Exception):
    """The user spent their catch-up budget: the socket is closed as for too many frames."""


class Connection:
    """One browser tab's socket: parses its frames, renders and sends the session's events in order.

    It is a `Tab` of the live-session registry: `deliver`, `catch_up`, `replaced`.
    """

    def __init__(self, ws: WebSocket, state: VarroState, user_id: int, chat: Chat) -> None:
        self.ws = ws
        self.send_text = ws.send_text
        self.state = state
        self.user_id = user_id
        self.chat_url = state.urls.page(chat.id)
        self.renderer = chat_renderer(state, chat)
        self.coalescer = Coalescer(state.settings.stream_flush_ms, self._send_batch, self._send_text,
                                   lag=state.lag.recent, budget=state.frames)
        self.session: ChatSession | None = None
        self._stored_html = ""  # stored turns the page lacks, sent ahead of the catch-up
        self._page_running = False  # the page showed a run going on when it said hello
        self.trace = StreamTrace(state.trace, chat.id) if state.trace is not None else None

    async def _send_batch(self, events: list[Event]) -> None:
        if self.trace is None:
            await self.send_text(self.renderer.frame(events))
            return
        started = time.perf_counter()
        frame = self.renderer.frame(events)
        self.trace.sent(frame, events, time.perf_counter() - started)
        await self.send_text(frame)

    async def _send_text(self, text: str) -> None:
        if self.trace is not None:
            self.trace.sent(text)
        await self.send_text(text)

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
            html += self.renderer.frame(events) + to_xml(Progress("idle", oob=True), indent=False)
        elif events:
            html += self.renderer.frame(events)
        # The shell's badge as the session found it, when it found one (a kernel kept since the last session: idle,
        # with its names), in case the page was drawn before it knew.
        if html := html + self._shell_html(started_only=not (self._page_running and not running)):
            await self.coalescer.prime_html(html)

    def _shell_html(self, started_only: bool = False) -> str:
        live = self.state.live.get(self.user_id)
        if live is None or (started_only and live.session.shell.status == "not started"):
            return ""
        return to_xml(ShellStatus(live.session.shell.status, live.session.shell.names, oob=True), indent=False)

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
        go live. More than a page's turns lacking, or turns removed elsewhere (an edit in another tab): the page is
        redrawn with the latest batch, and the rest comes as the user scrolls up (app/turn_window.py)."""
        self._page_running = running
        end = await session.turns.end()
        resets = await session.turns.shell_resets()
        if known != end and not self.state.limits.hellos.take(self.user_id):
            raise Flooded  # each catch-up can be a batch's HTML: a budget of its own, per user
        window = await batch(self.state.turn_html, session.turns, end, start=0 if known > end else known,
                             size=PAGE_TURNS)
        if known > end or window.start > known:
            earlier = earlier_url(self.state.urls, session.chat_id, window)
            self._stored_html = to_xml(Div(*with_markers(window, resets), id=ids.TURNS, hx_swap_oob="innerHTML"),
                                       indent=False) + to_xml(LoadEarlier(earlier, oob=True), indent=False)
        elif fresh := with_markers(window, resets):
            self._stored_html = to_xml(Div(*fresh, id=ids.TURNS, hx_swap_oob="beforeend"), indent=False)
        await self.state.live.attach(self.user_id, self, end)

    async def switch(self, session: ChatSession, k: int, to: int) -> None:
        """Show version `to` of turn k. The page has already taken what followed turn k off (`truncateAfter(k)`, as
        for an edit); this sends turn k as that version and the turns of its branch after it, or puts them back."""
        if not await session.switch(k, to):
            await self.send(notice("That version is no longer there: reload the page to see this chat's versions.",
                                   session.busy, keep_draft=True))
            return
        end = await session.turns.end()
        window = await from_turn(self.state.turn_html, session.turns, k, end)
        if not window.html:
            return
        # Turn k replaces the page's (an element with an id and no swap style replaces its namesake); the branch's
        # later turns, with their shell-reset markers, follow it. Markers before turn k are on the page already.
        after = with_markers(Window(k + 1, window.turns[1:], window.html[1:]), await session.turns.shell_resets())
        later = Div(*after, id=ids.TURNS, hx_swap_oob="beforeend")
        await self.send(str(window.html[0]) + to_xml(later, indent=False) + self._shell_html())

    async def refused(self, session: ChatSession) -> bool:
        """Past the user's cap on runs at once, or on turns a minute: say so (the page unlocks, the draft stays) and
        start nothing. A turn is spent only when nothing else refuses it."""
        if session.busy:  # `Busy` says it better
            return False
        why = await self.state.live.refusal(self.user_id) or self.state.limits.turn_refusal(self.user_id)
        if why is not None:
            await self.send(notice(why, False, keep_draft=True))
        return why is not None

    async def handle(self, session: ChatSession, raw: str | bytes) -> None:
        try:
            match parse_frame(raw, self.state.settings.max_message_chars, session.deps.models):
                case Send(msg=msg) as sent:
                    if not await self.refused(session):
                        # With a picker on the page, a send without a model (an example prompt) gets the default.
                        files = await session.attached(sent.file_names)  # asked of the chat's kernel host
                        session.send(msg, files, sent.model or self.state.default_model_key)
                case Run(code=code):
                    if not await self.refused(session):
                        session.run_by_hand(code)
                case Edit(turn=k, msg=msg):
                    if not await self.refused(session):
                        session.edit(k, msg)
                case Switch(turn=k, to=to):
                    await self.switch(session, k, to)
                case Stop():
                    await session.stop()
                case Reset():
                    session.reset_shell()
                case Rerun():
                    session.rerun_cells()
                case Hello(known=known, running=running):
                    await self.hello(session, known, running)
                case Invalid(reason=reason, keep_draft=keep_draft):
                    await self.send(notice(reason, session.busy, keep_draft))
        except Busy:
            await self.send(notice("A reply is still being written: stop it first, or wait for it to finish.", True))
        except Refused as exc:  # written for the user; any other error's text is not (the socket loop logs it)
            await self.send(notice(str(exc).capitalize() + ".", session.busy))
        except HostLost:
            log.warning("kernel host unreachable while handling a message", exc_info=True)
            await self.send(notice("The chat's files could not be reached just now (its shell's host did not answer); "
                                   "nothing was sent. Try again in a moment.", session.busy, keep_draft=True))


def client_address(ws: WebSocket, state: VarroState) -> str:
    """The socket's client address (behind VARRO_TRUSTED_PROXIES, the one they saw), the key of its budgets."""
    return state.limits.addresses.of(ws.client.host if ws.client else None, ws.headers.getlist("x-forwarded-for"))


async def chat_ws(ws: WebSocket) -> None:
    state: VarroState = ws.app.state.varro
    settings = state.settings
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins):
        await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
        return
    user_id = ws.session.get("user_id") if "session" in ws.scope else None
    if not isinstance(user_id, int):
        await ws.close(code=1008)
        return
    address = client_address(ws, state)
    # Opening a socket spends from the user's and the address's budgets, and holds a place under the address's cap:
    # reconnect loops end, from one account or many. Accepted first, so the tab reads why (a refused handshake is
    # 1006 to the browser, on which htmx reconnects).
    if (over := state.limits.enter(user_id, address)) is not None:
        await ws.accept()
        await close_over(ws, over, settings, f"user {user_id} at {address}", state.limits.worth_logging(over, address))
        return
    try:
        await serve(ws, state, user_id, address)
    finally:
        state.limits.leave(address)


async def open_session(ws: WebSocket, state: VarroState, user_id: int) -> tuple[Connection, ChatSession] | None:
    """Accept the socket and join the chat's live session; None (the socket closed, with a notice) if it can't."""
    chat_id = parse_index(ws.query_params.get("chat_id", ""))
    chat = await state.store.chats.for_user(user_id).get(chat_id) if chat_id is not None else None
    await ws.accept()
    if chat is None:
        await ws.send_text(notice("This chat was not found. It may have been deleted.", False))
        await ws.close(code=NOT_FOUND)
        return None
    conn = Connection(ws, state, user_id, chat)
    try:
        return conn, await state.live.connect(user_id, chat.id, conn)
    except Unavailable:
        log.warning("no session for user %s: Redis is unreachable", user_id)
        await ws.send_text(notice(MESSAGE, False))
        await ws.close(code=UNAVAILABLE)
        return None


async def serve(ws: WebSocket, state: VarroState, user_id: int, address: str) -> None:
    """Read the socket's frames until it closes, each paid for from the user's and the address's budgets."""
    if (opened := await open_session(ws, state, user_id)) is None:
        return
    conn, session = opened
    who = f"user {user_id} at {address}"
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if (over := state.limits.spend(user_id, address)) is not None:
                # Only this socket goes; a run it started carries on and is stored, as after any drop.
                await close_over(ws, over, state.settings, who, state.limits.worth_logging(over, address))
                break
            try:
                await conn.handle(session, message.get("text") or message.get("bytes") or "")
            except WebSocketDisconnect:
                break
            except RuntimeError:  # Starlette's "not connected" after a close; anything else is a fault worth a line
                if ws.client_state == WebSocketState.CONNECTED and ws.application_state == WebSocketState.CONNECTED:
                    log.exception("websocket frame failed")
                    await conn.send(notice(FAILED, session.busy))
                    continue
                break
            except Flooded:
                await close_over(ws, Over.USER_FRAMES, state.settings, who,
                                 state.limits.worth_logging(Over.USER_FRAMES, address))
                break
            except Exception:
                log.exception("websocket frame failed")
                await conn.send(notice(FAILED, session.busy))
    except WebSocketDisconnect:
        pass
    finally:
        conn.coalescer.close()
        await state.live.disconnect(user_id, conn)
