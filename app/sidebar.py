"""The sidebar's routes: its list (a page at a time, or the archived chats), and pin, archive and rename from it.

Each change answers with the list as it now is, which replaces the old one in place."""

from __future__ import annotations

from typing import Any

from fasthtml.common import APIRouter
from starlette.requests import Request

from app.routes import _chats, _state, not_found
from app.urls import ChatUrls
from ui.sidebar import SidebarEntries, SidebarList, SidebarUrls
from varro.chat.protocol import parse_index

PAGE = 30


def sidebar_urls(urls: ChatUrls, current: int | None) -> SidebarUrls:
    return SidebarUrls(
        page=urls.page,
        rename=lambda cid: urls.sidebar_rename(cid, current),
        pin=lambda cid, on: urls.mark(cid, "pin", on, current),
        archive=lambda cid, on: urls.mark(cid, "archive", on, current),
        delete=urls.delete,
        more=lambda offset, archived, group: urls.sidebar(current, offset, archived, group),
    )


async def sidebar(req: Request, current: str = "", offset: str = "", archived: str = "", g: str = "") -> Any:
    """The list from the top (with the switch to the archived chats or back), or the page from `offset` on."""
    state, chats = _state(req), _chats(req)
    here, start, old = parse_index(current), parse_index(offset) or 0, archived == "1"
    found = await chats.recent(limit=PAGE + 1, offset=start, archived=old, pinned_first=True)
    entries = SidebarEntries(found[:PAGE], sidebar_urls(state.urls, here), here, state.live.running(chats.user_id), old,
                             start, len(found) > PAGE, g if start else "")
    if start:
        return tuple(entries)
    return SidebarList(entries, old, state.urls.sidebar(here, archived=not old), state.urls.sidebar(here, archived=old))


async def _changed(req: Request, done: bool, current: str, archived: bool = False) -> Any:
    return await sidebar(req, current, archived="1" if archived else "") if done else not_found()


async def pin(req: Request, chat_id: int, on: str = "1", current: str = "") -> Any:
    return await _changed(req, await _chats(req).mark(chat_id, pinned=on == "1") is not None, current)


async def archive(req: Request, chat_id: int, on: str = "1", current: str = "") -> Any:
    """Archive (the chat leaves the list; search still finds it) or restore (from the archived list, which stays)."""
    return await _changed(req, await _chats(req).mark(chat_id, archived=on == "1") is not None, current, on != "1")


async def sidebar_rename(req: Request, chat_id: int, title: str = "", current: str = "") -> Any:
    return await _changed(req, await _chats(req).rename(chat_id, title) is not None, current)


def sidebar_router(urls: ChatUrls) -> APIRouter:
    ar = APIRouter()
    p = urls.prefix
    ar.get(f"{p}/sidebar")(sidebar)
    ar.post(f"{p}/{{chat_id:rowid}}/pin")(pin)
    ar.post(f"{p}/{{chat_id:rowid}}/archive")(archive)
    ar.post(f"{p}/{{chat_id:rowid}}/sidebar-rename")(sidebar_rename)
    return ar
