"""Files in a chat: chips for what a message attaches, download links for what code wrote, the Files view."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fasthtml.common import H2, A, Button, Dialog, Div, Form, Input, Li, P, Span, Table, Tbody, Td, Th, Thead, Tr, Ul

from ui import ids
from varro.files import ChatFile, human_size


def ComposerChip(file: ChatFile, remove_url: str, preview_url: str | None = None) -> Any:
    """A file uploaded for the message being written: sent with it (the hidden input), or removed with ×; a table
    (CSV, TSV, .xlsx) can show its first rows first."""
    preview = Button("Preview", type="button", cls="btn btn-ghost btn-xs px-1", aria_label=f"Preview {file.name}",
                     data_action="preview-file", data_url=preview_url, data_testid="preview-file") if preview_url else None
    return Span(
        Input(type="hidden", name="files", value=file.name),
        Span(file.name, cls="truncate max-w-48"), Span(human_size(file.size), cls="opacity-70"), preview,
        Button("×", type="button", cls="btn btn-ghost btn-xs px-1", aria_label=f"Remove {file.name}",
               data_action="remove-file", data_url=remove_url, data_testid="remove-file"),
        cls="badge badge-outline gap-1 h-auto py-1", data_testid="file-chip", data_name=file.name,
    )


def ComposerChips() -> Any:
    """Where uploaded files wait for the message (inside the form, so their names are sent with it)."""
    return Div(id=ids.ATTACHMENTS, cls="flex flex-wrap gap-1 w-full empty:hidden", aria_label="Attached files",
               data_testid="attachments")


def FilePreviewSlot() -> Any:
    """Where a chip's "Preview" shows its table (replaced by `FilePreview`, emptied by its Close)."""
    return Div(id=ids.FILE_PREVIEW, cls="w-full empty:hidden")


def FilePreview(name: str, rows: Sequence[Sequence[str]] = (), error: str | None = None) -> Any:
    """The first rows of an attached table, as the file has them (its first row is usually the header)."""
    if error is not None:
        body: Any = P(error, cls="text-sm opacity-80", data_testid="preview-error")
    elif not rows:
        body = P("This table is empty.", cls="text-sm opacity-80", data_testid="preview-error")
    else:
        head, *rest = rows
        body = Div(Table(Thead(Tr(*[Th(c) for c in head])), Tbody(*[Tr(*[Td(c) for c in r]) for r in rest]),
                         cls="table table-xs table-zebra"), cls="overflow-x-auto max-h-64")
    return Div(P(Span(name, cls="font-mono"), Span(" · first rows", cls="opacity-70"), cls="text-sm"), body,
               id=ids.FILE_PREVIEW, cls="w-full border border-base-300 rounded-box p-2 flex flex-col gap-1",
               role="region", aria_label=f"Preview of {name}", data_testid="file-preview")


def MessageFiles(files: Sequence[ChatFile]) -> Any:
    """The files a sent message came with, under its text."""
    if not files:
        return None
    return Div(*[Span(f.name, Span(human_size(f.size), cls="opacity-70"), cls="badge badge-ghost gap-1 h-auto py-1",
                      data_testid="message-file") for f in files],
               cls="flex flex-wrap gap-1 mt-1")


def FileLink(name: str, size: int | None, href: str, testid: str = "file-link") -> Any:
    """A download link for a file: its name and size."""
    return A(name, Span(human_size(size), cls="opacity-70 ms-1") if size is not None else None, href=href,
             download=name, cls="link text-sm", data_testid=testid)


def FilesView(files: Sequence[ChatFile], href: Callable[[str], str]) -> Any:
    """The Files dialog's body: what is in the chat's working directory now."""
    if not files:
        return P("No files yet: attach one to a message, or have code write one.", cls="opacity-70",
                 data_testid="files-empty")
    return Ul(*[Li(FileLink(f.name, f.size, href(f.name), "files-entry")) for f in files],
              cls="flex flex-col gap-1", data_testid="files-list")


def FilesDialog() -> Any:
    """The Files view: its body is fetched when it opens (the ⋯ menu's "Files"), so it shows the folder as it is."""
    return Dialog(
        Div(
            H2("Files in this chat", cls="font-bold text-lg"),
            P("The shell's working directory: code opens these by name.", cls="text-sm opacity-70 pb-2"),
            Div(id=ids.FILES_BODY),
            Div(Form(Button("Close", cls="btn"), method="dialog"), cls="modal-action"),
            cls="modal-box",
        ),
        id="files-dialog", cls="modal", x_ref="filesDialog", aria_label="Files in this chat", data_testid="files-dialog",
    )
