"""Sharing a chat: the dialog where its owner makes, copies and revokes links, and the read-only page a link opens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fasthtml.common import H1, A, Button, Dialog, Div, Form, Header, Input, Label, Li, Main, Meta, P, Span, Title, Ul

from ui.header import relative_time
from varro.db.models import Share

SHARE_LINKS = "share-links"


def ShareLinks(shares: Sequence[Share], link_url: Any, create_url: str, revoke_url: Any) -> Any:
    """Make a link to the chat as it is now (with its files, if chosen), and the links that still work, each to copy
    or revoke. Replaced whole by each change."""
    items = [
        Li(Input(value=link_url(s.token), readonly=True, cls="input input-sm flex-1 min-w-0", aria_label="Shared link",
                 data_testid="share-link"),
           Span(relative_time(s.created_at) + (" · with files" if s.include_files else ""), cls="text-xs opacity-80"),
           Button("Revoke", type="button", cls="btn btn-sm btn-ghost", hx_post=revoke_url(s.id),
                  hx_target=f"#{SHARE_LINKS}", hx_swap="outerHTML", data_testid=f"revoke-share-{s.id}"),
           cls="flex items-center gap-2")
        for s in shares
    ]
    return Div(
        Form(Label(Input(type="checkbox", name="files", value="1", cls="checkbox checkbox-sm", data_testid="share-files"),
                   Span("Include the chat's figures and Python state"), cls="flex items-center gap-2 text-sm"),
             Button("Create link", cls="btn btn-sm btn-primary", data_testid="create-share"),
             hx_post=create_url, hx_target=f"#{SHARE_LINKS}", hx_swap="outerHTML", cls="flex items-center gap-3"),
        P("A link shows the chat as it is now, read-only, to anyone who has it; later messages are not added. "
          "Whoever opens it does not see who you are.", cls="text-sm opacity-80"),
        Ul(*items, cls="flex flex-col gap-2") if items else P("No links yet.", cls="text-sm opacity-80"),
        id=SHARE_LINKS, cls="flex flex-col gap-3",
    )


def ShareDialog() -> Any:
    """Opened from the ⋯ menu, whose Share item fetches its content as it opens, so it is never stale."""
    return Dialog(
        Div(P("Share this chat", cls="font-bold text-lg"),
            Div(id=SHARE_LINKS),
            Div(Form(Button("Close", cls="btn"), method="dialog"), cls="modal-action"),
            cls="modal-box max-w-2xl"),
        id="share-dialog", cls="modal", x_ref="shareDialog", data_testid="share-dialog",
    )


def SharedPage(title: str, turns: Sequence[Any], continue_url: str | None) -> Any:
    """A shared chat, read-only: no composer, no shell, nothing of its owner's; not for search engines."""
    return (
        Title(f"{title or 'Shared chat'} · Varro"),
        Meta(name="robots", content="noindex, nofollow"),
        Div(
            Header(H1(title or "Shared chat", cls="text-lg font-semibold truncate min-w-0 flex-1"),
                   Span("Shared, read-only", cls="badge badge-sm"),
                   Form(Button("Continue in my chats", cls="btn btn-sm btn-primary", data_testid="continue-shared"),
                        method="post", action=continue_url) if continue_url else None,
                   cls="navbar gap-2 border-b border-base-300 px-3 min-h-12"),
            Main(Div(*turns, cls="shared-view flex flex-col gap-4 max-w-3xl mx-auto w-full p-3",
                     data_testid="shared-turns"), cls="flex-1 overflow-y-auto"),
            cls="flex flex-col h-dvh bg-base-100 text-base-content", data_testid="shared-page",
        ),
    )


def SharedGone(home: str) -> Any:
    return (Title("Link not found · Varro"), Meta(name="robots", content="noindex"),
            Main(P("This link does not work", cls="text-2xl font-semibold"),
                 P("It may have been revoked, or it is mistyped.", cls="opacity-80"),
                 A("Go to the chat", href=home, cls="btn btn-primary"),
                 cls="flex flex-col items-center justify-center gap-3 h-dvh p-4 text-center"))
