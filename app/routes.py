"""HTTP routes of the chat module, on an APIRouter made for one prefix (`chat_router`), mounted with `.to_app(app)`.

Every handler reads the signed-in user's scoped CRUD from the request (put there by the
Beforeware in `app.auth`); a chat that is not the user's is "not found", like one that never was.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from typing import Any

from fasthtml.common import APIRouter, FtResponse, Response
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse

from app import files
from app.assets import ASSETS
from app.gone import ClientGone, unless_gone
from app.render import Renderer
from app.spliced import Spliced
from app.state import VarroState
from app.turn_window import PAGE_TURNS, Window, batch, from_turn, with_markers
from app.urls import ChatUrls
from ui.header import ChatList, ChatTitle
from ui.layout import ChatGone, ChatPage
from ui.search import SearchResults
from ui.turns import LoadEarlier
from varro.chat.content import Attachment, answer_markdown, messages_of
from varro.chat.protocol import parse_index
from varro.db.crud import ChatTurns, UserChats
from varro.db.models import Chat
from varro.db.search import SearchRefused, words_of
from varro.export import to_markdown, to_notebook
from varro.shell.host import HostLost


class RowId(IntegerConvertor):
    """A database id in a path: at most 18 ASCII digits, so a longer number is "not found", not an overflow."""

    regex = "[0-9]{1,18}"


register_url_convertor("rowid", RowId())

FIRST_PAINT_HOST_S = 0.5  # how long a page waits for the kernel host to say whether the chat's kernel was kept
MODEL_HELP = "Set VARRO_MODEL (e.g. anthropic:claude-sonnet-4-5 or openai:gpt-4.1) to use a real model."


log = logging.getLogger("varro")


def _state(req: Request) -> VarroState:
    return req.app.state.varro


def _chats(req: Request) -> UserChats:
    return req.scope["chats"]


def _urls(req: Request) -> ChatUrls:
    return _state(req).urls


def not_found() -> Response:
    return Response("Not found", status_code=404)


def title_block(urls: ChatUrls, chat: Chat) -> Any:
    return ChatTitle(chat, urls.rename(chat.id))


def chat_renderer(state: VarroState, chat: Chat) -> Renderer:
    def title(text: str) -> Any:
        block = title_block(state.urls, Chat(id=chat.id, user_id=chat.user_id, title=text))
        block.attrs["hx-swap-oob"] = "true"
        return block

    return Renderer(state.urls.upload, title, functools.partial(state.urls.output, chat.id))


async def index(req: Request) -> Any:
    """The most recent chat, or a new one for a first visit."""
    recent = await _chats(req).recent(limit=1)
    chat = recent[0] if recent else await _chats(req).create()
    return RedirectResponse(_urls(req).page(chat.id), status_code=303)


async def new_chat(req: Request) -> Any:
    """A fresh chat; the current one is reused if it has no messages yet, so empty chats don't pile up (one whose
    first answer is being written is not empty, though nothing of it is stored yet, and neither is one the user
    attached files to: a new chat must not come with them)."""
    chats, state = _chats(req), _state(req)
    recent = await chats.recent(limit=1)
    running = state.live.running(chats.user_id)
    # Turn 0 (finished or running) is there in any chat that has a turn: one row read, however long the chat.
    turns = await chats.turns(recent[0].id) if recent else None
    if turns is not None and recent[0].id not in running and not await turns.list(running=True, stop=1) \
            and not await _has_files(state, chats.user_id, recent[0].id):
        return RedirectResponse(_urls(req).page(recent[0].id), status_code=303)
    chat = await chats.create()
    return RedirectResponse(_urls(req).page(chat.id), status_code=303)


async def _has_files(state: VarroState, user_id: int, chat_id: int) -> bool:
    try:
        return bool(await state.kernels.files(user_id, chat_id))
    except HostLost:  # can't tell: a new chat it is, rather than one that may come with files
        return True


HISTORY_PAGE = 30


async def history(req: Request, current: int | None = None, everything: int = 0) -> Any:
    """The chat menu's list: the newest chats, and a way to every older one."""
    urls = _urls(req)
    chats = await _chats(req).recent(limit=None if everything else HISTORY_PAGE + 1)
    more = urls.history(current, everything=True) if len(chats) > HISTORY_PAGE and not everything else None
    running = _state(req).live.running(_chats(req).user_id)
    return ChatList(chats[:HISTORY_PAGE] if more else chats, current, urls.page, more, running)


async def search(req: Request, q: str = "", current: int | None = None) -> Any:
    """Results as the user types: chats whose title or messages match, each opening at the matching turn."""
    if not q.strip():
        return await history(req, current)
    try:  # the browser aborts a search the user typed past (hx-sync): its query stops with it
        hits = await unless_gone(req, _chats(req).search(q, time_limit=_state(req).settings.search_timeout_s))
    except SearchRefused as e:
        return SearchResults((), _urls(req).page, note=str(e))
    except ClientGone:
        return Response(status_code=499)  # nobody reads it: nginx's "client closed request"
    return SearchResults(hits, _urls(req).page, words_of(q))


def earlier_url(urls: ChatUrls, chat_id: int, window: Window) -> str | None:
    """Where the "Show earlier messages" control above `window` fetches from; None when it starts at turn 0."""
    return urls.earlier(chat_id, window.start) if window.start > 0 else None


async def show_branch(state: VarroState, user_id: int, turns: ChatTurns, turn_id: int) -> None:
    """Show the branch holding turn `turn_id` (a search result on a version not shown), unless an answer is being
    written in this chat; its live session, if any, goes on from that branch."""
    live = state.live.get(user_id)
    session = live.session if live is not None and live.chat_id == turns.chat_id else None
    if session is not None and session.busy or not await turns.show(turn_id):
        return
    if session is not None:
        await session.load(resume=False)


async def chat_page(req: Request, chat_id: int, at: str = "", turn: str = "") -> Any:
    """The chat with its latest turns (a long chat's earlier ones come as the user scrolls up), and all from turn `at`
    on if that is earlier (a search result's turn); with `turn` (a turn's id), on the branch that holds it."""
    state, chats = _state(req), _chats(req)
    chat = await chats.get(chat_id)
    turns = await chats.turns(chat_id)
    if chat is None or turns is None:  # deleted, or never the user's: a page with a way back, not a bare "Not found"
        return FtResponse(ChatGone(state.urls.index()), status_code=404)
    if (turn_id := parse_index(turn)) is not None:
        await show_branch(state, chats.user_id, turns, turn_id)
    end = await turns.end()
    window = await batch(state.turn_html, turns, end, size=PAGE_TURNS)
    if (start := parse_index(at)) is not None and start < window.start:
        window = await from_turn(state.turn_html, turns, start, end)
    shell = await _shell_status(state, chats.user_id, chat.id)
    u = state.urls
    urls = {
        "ws": u.ws(chat.id),
        "history": u.history(chat.id),
        "search": u.search(chat.id),
        "rename": u.rename(chat.id),
        "new": u.new(),
        "delete": u.delete(chat.id),
        "sidebar": u.sidebar(chat.id),
        "shares": u.shares(chat.id),
        "model_help": MODEL_HELP,
        "export_md": u.export(chat.id, "md"),
        "export_ipynb": u.export(chat.id, "ipynb"),
        "answer": u.answer(chat.id),
        "files": u.files(chat.id),
        "plotly": ASSETS.url(u.static, "vendor/plotly-strict.min.js"),  # loaded when a chart comes near (charts.js)
        "plotly_css": ASSETS.url(u.static, "css/plotly.css"),
        "grid": ASSETS.url(u.static, "vendor/gridjs.umd.js"),
        "grid_css": ASSETS.url(u.static, "vendor/gridjs.css"),
        "csrf": req.scope["csrf"],  # not a URL: the token the page's requests carry (app/csrf.py)
    }
    # Spliced: the turns' cached HTML is streamed into the page rather than joined into it on the event loop.
    return Spliced(ChatPage(chat, with_markers(window, chat.shell_resets), state.model_label, urls, shell,
                            state.settings.max_message_chars, state.picker(window.turns), earlier_url(u, chat.id, window)))


async def _shell_status(state: VarroState, user_id: int, chat_id: int) -> str:
    """The badge at first paint: the live session's shell, or "idle" for a kernel its host kept since the chat's last
    session (the next cell finds every name as it was); a host slow to answer costs the page no more than a moment."""
    live = state.live.get(user_id)
    if live is not None and live.chat_id == chat_id:
        return live.session.shell.status
    try:
        kept = await asyncio.wait_for(state.kernels.kernel_of(user_id, chat_id), FIRST_PAINT_HOST_S)
    except (HostLost, TimeoutError):
        return "not started"
    return "idle" if kept is not None else "not started"


async def earlier(req: Request, chat_id: int, before: str = "") -> Any:
    """The batch of turns just before turn `before`, for above the page's first one, with the control for the batch
    before that (hidden once turn 0 is there). A turn index that is not a stored turn's is "not found"."""
    state, chats = _state(req), _chats(req)
    turns = await chats.turns(chat_id)
    k = parse_index(before)
    if turns is None or k is None or not 0 < k < await turns.end():
        return not_found()
    window = await batch(state.turn_html, turns, k)
    resets = await turns.shell_resets()
    return *with_markers(window, resets, last=False), LoadEarlier(earlier_url(state.urls, chat_id, window), oob=True)


async def rename(req: Request, chat_id: int, title: str = "") -> Any:
    chat = await _chats(req).rename(chat_id, title)
    return not_found() if chat is None else title_block(_urls(req), chat)


async def delete(req: Request, chat_id: int) -> Any:
    state, chats = _state(req), _chats(req)
    if not await chats.delete(chat_id):
        return not_found()
    await state.live.end(chats.user_id, chat_id)
    await asyncio.to_thread(state.uploads.drop_chat, chats.user_id, chat_id)
    # The chat's kernel and folder go with it, on its kernel host.
    try:
        await state.kernels.delete_chat(chats.user_id, chat_id)
    except HostLost:
        log.warning("chat %s deleted, but its kernel host did not answer: its folder stays there", chat_id)
    return RedirectResponse(state.urls.index(), status_code=303)


EXPORTS = {"md": (to_markdown, "text/markdown; charset=utf-8"), "ipynb": (to_notebook, "application/x-ipynb+json")}


async def export(req: Request, chat_id: int, fmt: str) -> Any:
    """The chat as a download: Markdown, or a notebook that opens in Jupyter."""
    state, chats = _state(req), _chats(req)
    chat = await chats.get(chat_id)
    if chat is None or fmt not in EXPORTS:
        return not_found()
    stored = await (await chats.turns(chat_id)).list()

    def read_image(att: Attachment) -> bytes | None:
        path = state.uploads.resolve(chats.user_id, att.path)
        return path.read_bytes() if path is not None else None

    build, media_type = EXPORTS[fmt]
    if build is to_notebook:  # the notebook names the packages its code imports, from the kernels' environment
        try:
            build = functools.partial(to_notebook, environment=await state.kernels.environment())
        except HostLost:
            log.warning("the kernel hosts did not answer: a notebook without its package list")
    body = await asyncio.to_thread(build, chat.title, stored, read_image)
    name = re.sub(r"[^\w-]+", "-", chat.title or "chat").strip("-").lower() or "chat"
    # Any script's title: the header carries an ASCII name and the real one encoded (RFC 6266).
    return Response(body, media_type=media_type, headers=files.download_headers(f"{name}.{fmt}"))


async def answer(req: Request, chat_id: int, k: str = "", n: str = "") -> Any:
    """The markdown that node n of turn k wrote, as the model wrote it: what "Copy" on an answer copies. Indexes are
    short ASCII numbers (`parse_index`): a huge one is "not found", not a database overflow."""
    turns = await _chats(req).turns(chat_id)
    turn, node = parse_index(k), parse_index(n)
    if turns is None or turn is None or node is None:
        return not_found()
    found = await turns.list(start=turn, stop=turn + 1)  # that one row, not the whole chat
    text = answer_markdown(messages_of(found[0].content), node) if found else None
    return not_found() if text is None else Response(text, media_type="text/plain; charset=utf-8")


async def upload(req: Request, path: str, download: str = "") -> Any:
    """An image a tool made or a file a cell wrote, for its owner only; anything else (other user, missing, `..`)
    is 404. With `download`, it comes as a download of that name."""
    file = _state(req).uploads.resolve(_chats(req).user_id, path)
    if file is None:
        return not_found()
    if download:
        return FileResponse(file, headers=files.download_headers(download), media_type="application/octet-stream")
    # An SVG opened on its own must run no script and fetch nothing (not even a third-party image), nor be sniffed.
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'", "X-Content-Type-Options": "nosniff",
               "Cache-Control": "private, max-age=31536000, immutable"}
    return FileResponse(file, headers=headers)


def chat_router(urls: ChatUrls) -> APIRouter:
    """The routes above at `urls.prefix` (the socket and static files are added by `mount_chat`)."""
    ar = APIRouter()
    p = urls.prefix
    ar.get(p)(index)
    ar.post(f"{p}/new")(new_chat)
    ar.get(f"{p}/history")(history)
    ar.get(f"{p}/search")(search)
    ar.get(f"{p}/{{chat_id:rowid}}")(chat_page)
    ar.get(f"{p}/{{chat_id:rowid}}/earlier")(earlier)
    ar.post(f"{p}/{{chat_id:rowid}}/rename")(rename)
    ar.post(f"{p}/{{chat_id:rowid}}/delete")(delete)
    ar.get(f"{p}/{{chat_id:rowid}}/export.{{fmt}}")(export)
    ar.get(f"{p}/{{chat_id:rowid}}/answer")(answer)
    ar.get(f"{p}/uploads/{{path:path}}")(upload)
    ar.post(f"{p}/{{chat_id:rowid}}/files")(files.upload_file)
    ar.post(f"{p}/{{chat_id:rowid}}/files/remove")(files.remove_file)
    ar.get(f"{p}/{{chat_id:rowid}}/preview")(files.preview_file)
    ar.get(f"{p}/{{chat_id:rowid}}/files")(files.list_files)
    ar.get(f"{p}/{{chat_id:rowid}}/files/{{name}}")(files.download_file)
    ar.get(f"{p}/{{chat_id:rowid}}/output/{{name}}")(files.download_output)
    return ar
