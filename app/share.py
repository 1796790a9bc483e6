"""Shared links: the owner makes, lists and revokes them; anyone with a token reads the chat as it was, read-only;
a signed-in viewer continues it as a chat of their own. Rate-limited: links per user, pages per client address."""

from __future__ import annotations

import logging
from typing import Any

from fasthtml.common import APIRouter, FtResponse, Response
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse

from app.render import stored_turn
from app.routes import _chats, _state, not_found
from app.urls import ChatUrls
from ui.share import SharedGone, SharedPage, ShareLinks
from varro.chat.content import attachments_of
from varro.db.crud.share import Snapshot, copy_shared, read_shared
from varro.shell.host import HostLost

log = logging.getLogger("varro.share")

# Referrer-Policy same-origin, not no-referrer: the link's token still never reaches another site, and the page's
# own "Continue in my chats" form keeps its Origin (under no-referrer a browser posts `Origin: null`, which the
# CSRF check refuses, as it must: app/csrf.py).
NOINDEX = {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


def _links(req: Request, chat_id: int, shares: list[Any]) -> Any:
    u = _state(req).urls
    base = f"{req.url.scheme}://{req.url.netloc}"
    return ShareLinks(shares, lambda token: base + u.shared(token), u.shares(chat_id), u.revoke_share)


async def shares(req: Request, chat_id: int) -> Any:
    chats = _chats(req)
    if await chats.get(chat_id) is None:
        return not_found()
    return _links(req, chat_id, await chats.links.of_chat(chat_id))


async def share(req: Request, chat_id: int, files: str = "") -> Any:
    """A new link to the chat as it is now (with its figures if `files`)."""
    chats, state = _chats(req), _state(req)
    if await chats.get(chat_id) is None:
        return not_found()
    if not state.limits.shares.take(chats.user_id):
        return Response("Too many links made in the last hour: try again later.", status_code=429)
    await chats.links.create(chat_id, include_files=files == "1")
    return _links(req, chat_id, await chats.links.of_chat(chat_id))


async def revoke(req: Request, share_id: int) -> Any:
    chats = _chats(req)
    gone = await chats.links.revoke(share_id)
    return not_found() if gone is None else _links(req, gone.chat_id, await chats.links.of_chat(gone.chat_id))


async def _snapshot(req: Request, token: str) -> Snapshot | Any:
    """The snapshot, or the answer to give instead (over the address's budget; not found)."""
    state = _state(req)
    address = state.limits.addresses.of(req.client.host if req.client else None, req.headers.getlist("x-forwarded-for"))
    if not state.limits.shared_views.take(address):
        return Response("Too many requests: wait a minute.", status_code=429, headers=NOINDEX)
    found = await read_shared(state.store.sessions, token)
    return found if found is not None else FtResponse(SharedGone(state.urls.index()), status_code=404, headers=NOINDEX)


async def shared(req: Request, token: str) -> Any:
    """The chat as it was shared: its turns rendered read-only, figures only if the owner chose to include them."""
    snapshot = await _snapshot(req, token)
    if not isinstance(snapshot, Snapshot):
        return snapshot
    urls = _state(req).urls

    def image_url(path: str) -> str:
        return urls.shared_file(token, path)

    turns = [stored_turn(urls, t, image_url=image_url) for t in snapshot.turns]
    signed_in = isinstance(req.session.get("user_id"), int) if "session" in req.scope else False
    page = SharedPage(snapshot.share.title, turns, urls.continue_shared(token) if signed_in else None)
    return FtResponse(page, headers=NOINDEX)


async def shared_file(req: Request, token: str, path: str) -> Any:
    """A figure of a shared chat: only with a link that includes them, and only one its turns show."""
    snapshot = await _snapshot(req, token)
    if not isinstance(snapshot, Snapshot):
        return snapshot
    shown = {a.path for t in snapshot.turns for atts in attachments_of(t.content).values() for a in atts}
    file = _state(req).uploads.resolve(snapshot.owner_id, path) if snapshot.share.include_files and path in shown else None
    if file is None:
        return not_found()
    return FileResponse(file, headers={**NOINDEX, "Content-Security-Policy": "sandbox; default-src 'none'",
                                       "X-Content-Type-Options": "nosniff"})


async def continue_shared(req: Request, token: str) -> Any:
    """A copy of the shared chat in the viewer's own chats. Its shell comes back from a copy of the owner's snapshots
    when the owner shared the chat with its files (a snapshot holds what the cells read from them); otherwise, or if
    the host has none, its first cell offers the copied cells to run again, as any restore without a snapshot."""
    snapshot = await _snapshot(req, token)
    if not isinstance(snapshot, Snapshot):
        return snapshot
    state, user_id = _state(req), _chats(req).user_id
    chat_id, turns = await copy_shared(state.store.sessions, snapshot, user_id)
    if snapshot.share.include_files and turns:
        try:
            await state.kernels.copy_snapshots((snapshot.owner_id, snapshot.share.chat_id), user_id, chat_id, turns)
        except HostLost:
            log.warning("shared chat %s continued as %s without its snapshots: no kernel host answered",
                        snapshot.share.chat_id, chat_id)
    return RedirectResponse(state.urls.page(chat_id), status_code=303)


def share_router(urls: ChatUrls) -> APIRouter:
    ar = APIRouter()
    p = urls.prefix
    ar.get(f"{p}/{{chat_id:rowid}}/shares")(shares)
    ar.post(f"{p}/{{chat_id:rowid}}/shares")(share)
    ar.post(f"{p}/shares/{{share_id:rowid}}/revoke")(revoke)
    ar.get(f"{p}/shared/{{token}}")(shared)
    ar.get(f"{p}/shared/{{token}}/files/{{path:path}}")(shared_file)
    ar.post(f"{p}/shared/{{token}}/continue")(continue_shared)
    return ar
