"""The chat page: header with title and chat menu, the turn list, the input bar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fasthtml.common import A, Button, Dialog, Div, Footer, Form, Header, Input, Li, Main, P, Span, Textarea, Title, Ul

from ui import ids
from ui.alpine import bind, on
from ui.icons import Icon
from varro.db.models import Chat


def relative_time(when: datetime, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday', '4 days ago', or a date."""
    now = now or datetime.now(UTC)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    s = (now - when).total_seconds()
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 86400:
        return f"{int(s // 3600)} h ago"
    if s < 2 * 86400:
        return "yesterday"
    if s < 7 * 86400:
        return f"{int(s // 86400)} days ago"
    return when.strftime("%Y-%m-%d")


def ChatTitle(chat: Chat, rename_url: str) -> Any:
    """The title in the header; clicking it turns it into an inline rename form."""
    return Div(
        Button(
            chat.title or "New chat",
            cls="btn btn-ghost btn-sm text-base font-semibold truncate max-w-[40vw] normal-case",
            x_show="notRenaming",
            **on("click", "startRename"),
            aria_label="Rename chat",
            data_testid="chat-title-text",
        ),
        Form(
            Input(name="title", value=chat.title, cls="input input-sm", aria_label="Chat title", maxlength="80",
                  x_ref="titleInput", **on("keydown.escape", "cancelRename")),
            Button("Save", cls="btn btn-sm btn-primary", data_testid="rename-save"),
            hx_post=rename_url, hx_target=f"#{ids.TITLE}", hx_swap="outerHTML",
            x_show="renaming", x_cloak=True, cls="flex gap-1",
        ),
        id=ids.TITLE, x_data="rename", cls="min-w-0",
    )


def ChatMenu(history_url: str) -> Any:
    """The recent-chats dropdown; its list is fetched each time it opens, so it is never stale."""
    return Div(
        Div(Icon("menu"), tabindex="0", role="button", cls="btn btn-ghost btn-sm", aria_label="Chats",
            data_testid="chat-menu", hx_get=history_url, hx_target=f"#{ids.MENU}", hx_trigger="click, focus"),
        Ul(Li(Span("Loading…", cls="opacity-60")), id=ids.MENU, tabindex="0",
           cls="dropdown-content menu bg-base-200 rounded-box z-10 w-72 p-2 shadow max-h-96 overflow-y-auto flex-nowrap"),
        cls="dropdown",
    )


def ChatList(chats: Sequence[Chat], current: int | None, open_url: Any) -> Any:
    """The entries of the chat menu: title, relative time, the current one marked."""
    if not chats:
        return Ul(Li(Span("No chats yet", cls="opacity-60")), id=ids.MENU)
    items = [
        Li(A(Span(c.title or "New chat", cls="truncate"), Span(relative_time(c.updated_at), cls="text-xs opacity-60"),
             href=open_url(c.id), cls="flex justify-between gap-2" + (" menu-active" if c.id == current else ""),
             aria_current="page" if c.id == current else None, data_testid=f"chat-link-{c.id}"))
        for c in chats
    ]
    return Ul(*items, id=ids.MENU,
              cls="dropdown-content menu bg-base-200 rounded-box z-10 w-72 p-2 shadow max-h-96 overflow-y-auto flex-nowrap")


def DeleteDialog(delete_url: str) -> Any:
    return Dialog(
        Div(
            P("Delete this chat?", cls="font-bold text-lg"),
            P("Its messages and images are removed for good.", cls="py-2 opacity-80"),
            Div(
                Form(Button("Cancel", cls="btn"), method="dialog"),
                Form(Button("Delete", cls="btn btn-error", data_testid="confirm-delete"), method="post", action=delete_url),
                cls="modal-action",
            ),
            cls="modal-box",
        ),
        id="delete-dialog", cls="modal", x_ref="deleteDialog",
    )


def ChatHeader(chat: Chat, model_label: str, urls: dict[str, Any]) -> Any:
    return Header(
        ChatMenu(urls["history"]),
        ChatTitle(chat, urls["rename"]),
        Span(model_label, cls="badge badge-ghost badge-sm hidden sm:inline-flex", title=urls["model_help"],
             data_testid="model-badge"),
        Div(cls="flex-1"),
        Form(Button(Icon("plus"), Span("New chat", cls="hidden sm:inline"), cls="btn btn-sm btn-primary",
                    data_testid="new-chat", aria_label="New chat"), method="post", action=urls["new"]),
        Button(Icon("trash"), cls="btn btn-sm btn-ghost", data_testid="delete-chat", aria_label="Delete chat",
               **on("click", "confirmDelete")),
        DeleteDialog(urls["delete"]),
        cls="navbar gap-2 border-b border-base-300 px-2 min-h-12 shrink-0",
    )


def ChatInput() -> Any:
    """The input bar: a textarea that sends on Enter, the send button, and the stop button."""
    return Footer(
        Form(
            Input(type="hidden", name="action", value="send"),
            Textarea(id=ids.INPUT, name="msg", rows="1", placeholder="Message Varro…  (Enter to send, Shift+Enter for a new line)",
                     aria_label="Message", cls="textarea textarea-bordered flex-1 resize-none min-h-11 max-h-48",
                     x_ref="input", **on("keydown", "onKeydown"), **on("input", "autosize")),
            Button(Icon("send"), cls="btn btn-primary", data_testid="send", aria_label="Send",
                   **bind("disabled", "running"), x_show="idle"),
            id=ids.FORM, ws_send=True, cls="flex items-end gap-2 flex-1",
        ),
        Form(
            Input(type="hidden", name="action", value="stop"),
            Button(Icon("stop"), cls="btn btn-warning", data_testid="stop", aria_label="Stop"),
            ws_send=True, x_show="running", x_cloak=True, x_ref="stopForm",
        ),
        cls="flex gap-2 p-2 border-t border-base-300 shrink-0",
    )


def ChatPage(chat: Chat, turns: Any, model_label: str, urls: dict[str, Any], running: bool = False) -> Any:
    """The whole chat page; `turns` are the rendered stored turns."""
    return (
        Title(f"{chat.title or 'New chat'} · Varro"),
        Div(
            ChatHeader(chat, model_label, urls),
            Main(
                Div(*turns, id=ids.TURNS, role="log", aria_live="polite", aria_relevant="additions",
                    aria_label="Conversation", cls="flex flex-col gap-4 max-w-3xl mx-auto w-full p-3"),
                id=ids.SCROLL, cls="flex-1 overflow-y-auto overflow-x-hidden", x_ref="scroller", **on("scroll", "onScroll"),
            ),
            Button("Jump to latest ↓", cls="btn btn-sm btn-neutral fixed bottom-24 left-1/2 -translate-x-1/2 z-10",
                   x_show="showJump", x_cloak=True, **on("click", "jumpToLatest"), data_testid="jump-latest"),
            Div(id=ids.NOTICES, cls="max-w-3xl mx-auto w-full px-3"),
            Progress("done" if not running else "thinking"),
            ChatInput(),
            id=ids.CHAT, x_data="chat", hx_ext="ws", ws_connect=urls["ws"],
            data_chat_id=str(chat.id),
            cls="flex flex-col h-dvh",
        ),
    )


def Progress(state: str, detail: str = "", oob: bool = False) -> Any:
    """The status line: thinking, running a tool, or done (empty). `data-running` drives input locking."""
    label = {"thinking": "Thinking…", "tool": f"Running {detail or 'a tool'}…"}.get(state, "")
    running = state in ("thinking", "tool")
    # A pulsing label rather than DaisyUI's loading dots: those are an SMIL-animated SVG used as a mask, which
    # cost ~5 ms of style work in the turn's first frame and a repaint on every frame of the stream.
    return Div(
        Span(label, cls="text-sm opacity-70 animate-pulse" if running else "text-sm opacity-70"),
        id=ids.PROGRESS, data_running="true" if running else "false", data_state=state,
        cls="max-w-3xl mx-auto w-full px-4 h-6 flex items-center gap-2",
        hx_swap_oob="true" if oob else None,
    )
