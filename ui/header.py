"""The chat header: title with inline rename, the recent-chats menu, new chat, theme, shell and export actions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from fasthtml.common import H2, A, Button, Dialog, Div, Form, Header, Input, Kbd, Li, P, Span, Table, Tbody, Td, Tr, Ul

from ui import ids
from ui.alpine import bind, on
from ui.files import FilesDialog
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
            # The text in its own block: a flex button would centre and clip it on both sides, without an ellipsis.
            Span(chat.title or "New chat", cls="title-text block truncate"),
            cls="btn btn-ghost btn-sm text-base font-semibold max-w-full min-w-0 justify-start normal-case",
            x_ref="titleButton",
            x_show="notRenaming",
            **on("click", "startRename"),
            aria_label=f"Rename chat “{chat.title or 'New chat'}”",
            data_testid="chat-title-text",
        ),
        Form(
            Input(name="title", value=chat.title, cls="input input-sm min-w-0 flex-1", aria_label="Chat title", maxlength="80",
                  x_ref="titleInput", **on("keydown.escape.stop", "cancelRename")),
            Button("Save", cls="btn btn-sm btn-primary", data_testid="rename-save"),
            hx_post=rename_url, hx_target=f"#{ids.TITLE}", hx_swap="outerHTML",
            # Above its neighbours: on a narrow header the form may reach over the shell badge.
            x_show="renaming", x_cloak=True, cls="flex gap-1 min-w-0 relative z-10 bg-base-100",
        ),
        id=ids.TITLE, x_data="rename", cls="min-w-0 flex-1", **on("htmx:oob-before-swap.self", "takeTitle"),
    )


PANEL_CLS = "absolute left-0 top-full mt-1 bg-base-200 rounded-box z-20 w-80 max-w-[90vw] p-2 shadow flex flex-col gap-2"
MENU_CLS = "menu w-full p-0 max-h-96 overflow-y-auto flex-nowrap"
NAMES_SHOWN = 12  # in the shell badge's title; past that, "and N more"


def MenuList(*items: Any) -> Any:
    """The chat menu's list: recent chats, or search results."""
    return Ul(*items, id=ids.MENU, role="menu", aria_label="Chats", cls=MENU_CLS)


def ChatMenu(history_url: str, search_url: str) -> Any:
    """The chats menu button, with search; its list is fetched each time it opens, so it is never stale."""
    return Div(
        Button(Icon("menu"), type="button", cls="btn btn-ghost btn-sm", aria_label="Chats", aria_haspopup="menu",
               aria_controls=ids.MENU, data_testid="chat-menu", hx_get=history_url, hx_target=f"#{ids.MENU}",
               hx_swap="outerHTML", hx_trigger="click", x_ref="menuButton", **bind("aria-expanded", "expanded"),
               **on("click", "toggle")),
        Div(
            Input(type="search", name="q", placeholder="Search chats", aria_label="Search chats", autocomplete="off",
                  data_testid="chat-search", hx_get=search_url, hx_trigger="input changed delay:300ms, search",
                  # Typing on aborts a search still under way (its query stops on the server, app/gone.py).
                  hx_sync="this:replace",
                  hx_target=f"#{ids.MENU}", hx_swap="outerHTML", x_ref="search", cls="input input-sm w-full"),
            MenuList(Li(Span("Loading…", cls="opacity-80"), role="none")),
            x_show="open", x_cloak=True, cls=PANEL_CLS,
        ),
        x_data="chatMenu", cls="relative", **on("click.outside", "close"),
        **on("keydown", "menuKey"),  # arrows, Home, End, Esc and Tab (chat.js)
    )


def Running(chat_id: int) -> Any:
    """A chat menu entry's mark while an answer is being written in that chat (perhaps with no tab on it)."""
    return Span("writing…", cls="badge badge-sm badge-info shrink-0", data_testid=f"running-{chat_id}")


def ChatList(chats: Sequence[Chat], current: int | None, open_url: Any, more_url: str | None = None,
             running: Collection[int] = ()) -> Any:
    """The entries of the chat menu: title, relative time (or that an answer is being written there), the current
    one marked; `more_url` lists them all."""
    items = [
        Li(A(Span(c.title or "New chat", cls="truncate min-w-0 flex-1"),
             Running(c.id) if c.id in running else
             Span(relative_time(c.updated_at), cls="chat-when text-xs opacity-80 shrink-0 whitespace-nowrap"),
             href=open_url(c.id), cls="flex justify-between gap-2 w-full min-w-0" + (" menu-active" if c.id == current else ""),
             role="menuitem", tabindex="-1", aria_current="page" if c.id == current else None,
             data_testid=f"chat-link-{c.id}"), role="none")
        for c in chats
    ] or [Li(Span("No chats yet", cls="opacity-80"), role="none")]
    if more_url:
        items.append(Li(Button("Show all chats", type="button", role="menuitem", tabindex="-1", hx_get=more_url,
                               hx_target=f"#{ids.MENU}", hx_swap="outerHTML", data_testid="all-chats"), role="none"))
    return MenuList(*items)


def CsrfField(token: str) -> Any:
    """The session's token in a plain form (htmx requests carry it as a header instead): see app/csrf.py."""
    return Input(type="hidden", name="csrf", value=token)


def DeleteDialog(delete_url: str, csrf: str) -> Any:
    return Dialog(
        Div(
            P("Delete this chat?", cls="font-bold text-lg"),
            P("Its messages and images are removed for good.", cls="py-2 opacity-80"),
            Div(
                Form(Button("Cancel", cls="btn"), method="dialog"),
                Form(CsrfField(csrf), Button("Delete", cls="btn btn-error", data_testid="confirm-delete"), method="post",
                     action=delete_url),
                cls="modal-action",
            ),
            cls="modal-box",
        ),
        id="delete-dialog", cls="modal", x_ref="deleteDialog",
    )


SHORTCUTS = (
    ("Enter", "Send the message (on a phone or tablet: a new line; the button sends)"),
    ("Shift+Enter", "A new line"),
    ("Esc", "Close what is open (menu, dialog, editor, rename); with nothing open, stop the answer"),
    ("Up", "In an empty message box: edit your last message"),
    ("Alt+R", "Regenerate the last answer"),
    ("?", "This list"),
    ("Tab", "The first stop is a link straight to the message box; the conversation is one stop"),
    ("Up/Down, Home, End", "In the conversation: move between its buttons and links"),
)


def ShortcutsDialog() -> Any:
    """Every key the page understands (`?` or the ⋯ menu opens it)."""
    rows = [Tr(Td(Kbd(key, cls="kbd kbd-sm")), Td(what)) for key, what in SHORTCUTS]
    return Dialog(
        Div(
            H2("Keyboard shortcuts", cls="font-bold text-lg"),
            Table(Tbody(*rows), cls="table table-sm"),
            Div(Form(Button("Close", cls="btn"), method="dialog"), cls="modal-action"),
            cls="modal-box",
        ),
        id="shortcuts", cls="modal", x_ref="shortcuts", aria_label="Keyboard shortcuts", data_testid="shortcuts",
    )


def ShellStatus(status: str, names: Sequence[str] = (), oob: bool = False) -> Any:
    """The kernel's state: not started, starting, idle or busy; its title lists the names it holds, when known."""
    tone = {"busy": "badge-warning", "idle": "badge-success", "starting": "badge-info"}.get(status, "badge-ghost")
    # On a phone the badge says "off" for "not started": the long words left the chat's title a letter wide.
    shown = (Span(status, cls="hidden sm:inline"), Span("off", cls="sm:hidden")) if status == "not started" else (status,)
    return Span(Span("shell: ", cls="hidden sm:inline"), *shown, id=ids.SHELL_STATUS,
                cls=f"badge badge-sm {tone} whitespace-nowrap shrink-0", title=_shell_title(names),
                data_status=status, data_testid="shell-status", hx_swap_oob="true" if oob else None)


def _shell_title(names: Sequence[str]) -> str:
    if not names:
        return "The Python shell of this chat"
    shown = ", ".join(names[:NAMES_SHOWN]) + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")
    return f"The Python shell of this chat, holding {shown}"


def MoreMenu(urls: dict[str, Any]) -> Any:
    """Less frequent actions: reset the shell, files, share, export the chat."""
    share = Button("Share…", type="button", cls="w-full text-left", data_testid="share-chat", hx_get=urls["shares"],
                   hx_target="#share-links", hx_swap="outerHTML", **on("click", "showShare")) if "shares" in urls else None
    reset = Form(Input(type="hidden", name="action", value="reset"),
                 Button("Reset shell", cls="w-full text-left", data_testid="reset-shell"), ws_send=True)
    return Div(
        Div("⋯", tabindex="0", role="button", cls="btn btn-ghost btn-sm", aria_label="More actions",
            data_testid="more-menu"),
        Ul(Li(reset),
           Li(Button("Files", type="button", cls="w-full text-left", data_testid="show-files", hx_get=urls["files"],
                     hx_target=f"#{ids.FILES_BODY}", **on("click", "showFiles"))),
           Li(share) if share is not None else None,
           Li(A(Icon("download", 14), "Export as Markdown", href=urls["export_md"], download=True,
                data_testid="export-md")),
           Li(A(Icon("download", 14), "Export as notebook (.ipynb)", href=urls["export_ipynb"], download=True,
                data_testid="export-ipynb")),
           Li(Button("Keyboard shortcuts  ?", type="button", cls="w-full text-left", data_testid="show-shortcuts",
                     **on("click", "showShortcuts"))),
           tabindex="0", cls="dropdown-content menu bg-base-200 rounded-box z-10 w-64 p-2 shadow",
           **on("click", "closeMenu")),
        cls="dropdown dropdown-end",
    )


def ChatHeader(chat: Chat, model_label: str, urls: dict[str, Any], shell_status: str) -> Any:
    return Header(
        ChatMenu(urls["history"], urls["search"]),
        ChatTitle(chat, urls["rename"]),
        Span(model_label, cls="badge badge-ghost badge-sm hidden sm:inline-flex", title=urls["model_help"],
             data_testid="model-badge"),
        ShellStatus(shell_status),
        Button(Icon("moon"), cls="btn btn-sm btn-ghost", aria_label="Toggle dark theme", data_testid="theme-toggle",
               **on("click", "toggleTheme")),
        Form(CsrfField(urls["csrf"]), Button(Icon("plus"), Span("New chat", cls="hidden sm:inline"), cls="btn btn-sm btn-primary",
                    data_testid="new-chat", aria_label="New chat"), method="post", action=urls["new"]),
        MoreMenu(urls),
        Button(Icon("trash"), cls="btn btn-sm btn-ghost", data_testid="delete-chat", aria_label="Delete chat",
               **on("click", "confirmDelete")),
        DeleteDialog(urls["delete"], urls["csrf"]),
        ShortcutsDialog(),
        FilesDialog(),
        cls="navbar gap-1 border-b border-base-300 px-2 min-h-12 shrink-0",
    )
