"""The chat sidebar on wide screens: chats grouped by date, pinned ones first, each with rename, pin, archive and
delete; "Archived" lists the archived ones, to restore. Phones keep the chats menu (ui/header.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fasthtml.common import A, Aside, Button, Div, Form, Input, Li, Nav, Span, Ul

from ui import ids
from ui.alpine import bind, on
from ui.header import Running
from ui.icons import Icon
from varro.db.models import Chat

GROUPS = ("Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older")


def group_of(chat: Chat, now: datetime) -> str:
    """Which heading a chat goes under: pinned, or by the day it was last written to (the reader's days: UTC here)."""
    if chat.pinned:
        return "Pinned"
    when = chat.updated_at if chat.updated_at.tzinfo else chat.updated_at.replace(tzinfo=UTC)
    days = (now.date() - when.astimezone(now.tzinfo).date()).days
    if days <= 0:
        return "Today"
    if days == 1:
        return "Yesterday"
    return "Previous 7 days" if days <= 7 else "Previous 30 days" if days <= 30 else "Older"


@dataclass(frozen=True)
class SidebarUrls:
    """What the sidebar's entries need to build their links: functions of a chat id (app/urls.py)."""

    page: Any
    rename: Any
    pin: Any
    archive: Any
    delete: Any
    more: Any  # (offset, archived, last group) -> the next page's URL


def SidebarItem(chat: Chat, urls: SidebarUrls, current: int | None, running: Collection[int], archived: bool) -> Any:
    """One chat: its link (the current one marked) and its actions; rename turns the title into a form in place."""
    cid = chat.id or 0
    title = chat.title or "New chat"
    target = {"hx_target": f"#{ids.SIDEBAR_LIST}", "hx_swap": "outerHTML"}
    act = "btn btn-ghost btn-xs px-1"
    actions = (
        Button(Icon("edit", 14), type="button", cls=act, aria_label=f"Rename “{title}”", data_testid=f"rename-{cid}",
               x_ref="titleButton", **on("click", "startRename")),
        Button("Unpin" if chat.pinned else "Pin", type="button", cls=act, data_testid=f"pin-{cid}",
               aria_label=f"{'Unpin' if chat.pinned else 'Pin'} “{title}”", hx_post=urls.pin(cid, not chat.pinned),
               **target) if not archived else None,
        Button("Restore" if archived else "Archive", type="button", cls=act,
               data_testid=f"{'restore' if archived else 'archive'}-{cid}", aria_label=f"Archive “{title}”"
               if not archived else f"Restore “{title}”", hx_post=urls.archive(cid, not archived), **target),
        Button(Icon("trash", 14), type="button", cls=act, aria_label=f"Delete “{title}”",
               data_testid=f"sidebar-delete-{cid}", data_delete_url=urls.delete(cid), **on("click", "confirmDeleteOf")),
    )
    link = A(Span(title, cls="truncate min-w-0 flex-1"), Running(cid) if cid in running else None,
             href=urls.page(cid), cls="sidebar-link flex gap-2 min-w-0 flex-1 items-center" +
             (" menu-active" if cid == current else ""), aria_current="page" if cid == current else None,
             data_testid=f"sidebar-chat-{cid}", x_show="notRenaming")
    rename = Form(Input(name="title", value=chat.title, maxlength="80", aria_label=f"New title for “{title}”",
                        x_ref="titleInput",
                        cls="input input-xs min-w-0 flex-1", **on("keydown.escape.stop", "cancelRename")),
                  Button("Save", cls="btn btn-xs btn-primary", data_testid=f"rename-save-{cid}"),
                  hx_post=urls.rename(cid), x_show="renaming", x_cloak=True, cls="flex gap-1 min-w-0 flex-1", **target)
    return Li(Div(link, rename, Div(*actions, cls="sidebar-actions flex shrink-0", x_show="notRenaming"),
                  cls="sidebar-row flex items-center gap-1 min-w-0 w-full"),
              x_data="rename", data_chat_id=str(cid))


def SidebarEntries(chats: Sequence[Chat], urls: SidebarUrls, current: int | None, running: Collection[int],
                   archived: bool, offset: int, more: bool, last_group: str = "", now: datetime | None = None) -> list[Any]:
    """A page of entries with their date headings (a heading the previous page ended under is not repeated), and at
    the end, when there are more, an entry that fetches the next page as it scrolls into view."""
    now = now or datetime.now(UTC)
    out: list[Any] = []
    for chat in chats:
        group = "Archived" if archived else group_of(chat, now)
        if group != last_group:
            out.append(Li(Span(group, cls="px-2"), cls="text-xs font-semibold pt-2", data_testid=f"group-{group}"))
            last_group = group
        out.append(SidebarItem(chat, urls, current, running, archived))
    if more:
        out.append(Li(Span("Loading…", cls="text-xs opacity-70"), hx_get=urls.more(offset + len(chats), archived,
                                                                                   last_group),
                      hx_trigger="revealed", hx_swap="outerHTML", data_testid="sidebar-more"))
    if not chats and not offset:
        out.append(Li(Span("No archived chats" if archived else "No chats yet", cls="opacity-80 text-sm")))
    return out


def SidebarList(entries: list[Any], archived: bool, toggle_url: str, self_url: str) -> Any:
    """The list (replaced whole after a pin, an archive, a rename, or when the chat's title changes: chat.js sends
    `sidebar-refresh`) with the switch to the archived chats or back."""
    return Div(
        Ul(*entries, cls="menu menu-sm w-full p-0 flex-nowrap", **on("keydown", "sidebarKey")),
        Button("Back to chats" if archived else "Archived", type="button", cls="btn btn-ghost btn-sm justify-start",
               hx_get=toggle_url, hx_target=f"#{ids.SIDEBAR_LIST}", hx_swap="outerHTML",
               data_testid="sidebar-back" if archived else "show-archived"),
        id=ids.SIDEBAR_LIST, cls="flex flex-col gap-1 overflow-y-auto flex-1 min-h-0 p-2",
        hx_get=self_url, hx_trigger="sidebar-refresh from:body", hx_swap="outerHTML",
    )


def Sidebar(list_url: str) -> Any:
    """The sidebar: hidden below 1024 px; collapsible (chat.js remembers the choice); its list fetched on load."""
    return Aside(
        Div(Button(Icon("menu"), type="button", cls="btn btn-ghost btn-sm", data_testid="sidebar-toggle",
                   aria_label="Hide or show the chat list", **bind("aria-expanded", "sidebarOpen"),
                   **on("click", "toggleSidebar")),
            Span("Chats", cls="font-semibold sidebar-body"), cls="flex items-center gap-1 p-2"),
        Nav(Div(id=ids.SIDEBAR_LIST, hx_get=list_url, hx_trigger="load", hx_swap="outerHTML"),
            aria_label="Chats", cls="sidebar-body flex flex-col flex-1 min-h-0"),
        id=ids.SIDEBAR, data_testid=ids.SIDEBAR, **bind("data-collapsed", "sidebarCollapsed"),
        cls="chat-sidebar hidden lg:flex flex-col h-dvh w-72 shrink-0 border-r border-base-300 bg-base-200",
    )
