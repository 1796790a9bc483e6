"""A turn: the user's bubble and the assistant's area, live or rendered from what was stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fasthtml.common import A, Button, Div, Form, Input, Span, Textarea
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart

from ui import ids
from ui.alpine import on
from ui.files import MessageFiles
from ui.icons import Icon
from ui.nodes import ResponseBlock, ToolsBlock
from varro.chat.content import Attachment, nodes_of
from varro.files import ChatFile


def UserBubble(k: int, text: str, files: Sequence[ChatFile] = ()) -> Any:
    """The user's message, with an inline editor ("Save & regenerate") behind its Edit button."""
    return Div(
        Div(
            Div(text, cls="whitespace-pre-wrap break-words", x_show="notEditing", data_testid=f"user-text-{k}"),
            MessageFiles(files),
            Form(
                Input(type="hidden", name="action", value="edit"),
                Input(type="hidden", name="turn", value=str(k)),
                Textarea(text, name="msg", rows="3", cls="textarea textarea-bordered w-full text-base-content",
                         aria_label="Edit message", x_ref="editor", **on("keydown.escape.stop", "cancel")),
                Div(Button("Cancel", type="button", cls="btn btn-sm", **on("click", "cancel")),
                    # The label says what the save will remove (chat.js counts the later turns).
                    Button("Save & regenerate", cls="btn btn-sm btn-primary", data_testid=f"save-edit-{k}",
                           x_text="saveLabel"),
                    cls="flex gap-2 justify-end mt-1"),
                ws_send=True, x_show="editing", x_cloak=True, data_turn=str(k),
            ),
            cls="chat-bubble chat-bubble-primary max-w-[85%]",
        ),
        Div(Button(Icon("edit", 14), cls="btn btn-ghost btn-xs", aria_label="Edit message", data_testid=f"edit-{k}",
                   **on("click", "start"), x_show="notEditing", x_ref="editButton"), cls="chat-footer opacity-60"),
        id=ids.user(k), cls="chat chat-end", x_data="editable",
    )


def TurnShell(k: int, user_text: str, *assistant: Any, footer: Any = None, files: Sequence[ChatFile] = ()) -> Any:
    return Div(
        UserBubble(k, user_text, files),
        Div(*assistant, id=ids.assistant(k), cls="assistant flex flex-col gap-3 min-w-0"),
        footer if footer is not None else Div(id=ids.meta(k)),
        id=ids.turn(k), cls="turn flex flex-col gap-3", data_turn=str(k),
    )


def ShellResetMarker(before_turn: int) -> Any:
    """A divider in the turn list: the shell was reset here, so later code starts from an empty namespace."""
    return Div("Shell reset: names defined above are gone", role="separator", data_before_turn=str(before_turn),
               cls="shell-reset divider text-xs opacity-70", data_testid=f"shell-reset-{before_turn}")


def LoadEarlier(url: str | None, oob: bool = False) -> Any:
    """Above the first turn shown: fetches the turns before it from `url` and puts them above, when clicked or when
    it scrolls into view (earlier.js sends it `earlier`: a click would count as the reader's). Hidden, and gone from
    the tab order, without `url`: turn 0 is shown.

    The batch goes in before the list's first child rather than into the list: htmx marks its target with classes
    while it swaps, and a class change on the list restyles every turn in it (a second a batch at 2,000 turns)."""
    return Button("Show earlier messages", type="button", id=ids.LOAD_EARLIER, data_testid=ids.LOAD_EARLIER,
                  hx_get=url, hx_trigger="click, earlier", hx_target=f"#{ids.TURNS} > :first-child",
                  hx_swap="beforebegin", hx_sync="this:drop",
                  hidden=url is None, hx_swap_oob="true" if oob else None, cls="btn btn-sm btn-ghost")


def ErrorBlock(message: str) -> Any:
    return Div(Span("⚠", aria_hidden="true"), Span(message), role="alert", cls="alert alert-error alert-soft text-sm")


def NoticeBlock(message: str, refs: Sequence[Sequence[Any]] = ()) -> Any:
    """A notice in an answer; `refs` (turn index, start of its message) link to the turns it is about."""
    links = [A(f"“{text}”", href=f"#{ids.turn(int(k))}", cls="link", data_testid=f"notice-ref-{k}") for k, text in refs]
    return Div(Span(message), *links, role="status", cls="alert alert-info alert-soft text-sm flex flex-wrap gap-x-2",
               data_testid="notice")


def TurnMeta(k: int, status: str, meta: Mapping[str, Any], oob: bool = False) -> Any:
    """Quiet per-turn facts: stopped marker, model, tokens, time."""
    usage = meta.get("usage") or {}
    bits = [meta.get("model_label") or meta.get("model")]  # the label the picker showed (VARRO_MODELS)
    if usage.get("output_tokens") is not None:
        about = "≈ " if usage.get("estimated") else ""  # cut short before the provider reported its count
        bits.append(f"{about}{usage.get('input_tokens', 0)} in · {usage['output_tokens']} out tokens")
    if meta.get("duration_ms") is not None:
        bits.append(f"{meta['duration_ms'] / 1000:.1f} s")
    marker = Span("Stopped", cls="badge badge-warning badge-sm", data_testid=f"stopped-{k}") if status == "stopped" else None
    # Shown on the last turn only (CSS): an edit of it with the same text (chat.js).
    regenerate = Button(Icon("refresh", 14), "Regenerate", type="button", cls="regenerate btn btn-ghost btn-xs",
                        data_action="regenerate", data_testid=f"regenerate-{k}", aria_label="Regenerate the answer",
                        title="Regenerate (Alt+R)")
    # opacity-70 keeps the quiet look at 4.5:1 contrast or more in both themes (WCAG AA).
    return Div(marker, Span(" · ".join(str(b) for b in bits if b), cls="opacity-70"), regenerate,
               id=ids.meta(k), cls="turn-meta text-xs flex gap-2 items-center", data_status=status,
               hx_swap_oob="true" if oob else None)


def MessageBlocks(k: int, messages: Sequence[ModelMessage], attachments: Mapping[str, Sequence[Attachment]],
                  image_url: Any) -> list[Any]:
    """Node blocks numbered as the live stream numbers them: one per response, one per tool step."""
    blocks: list[Any] = []
    calls: list[ToolCallPart] = []
    for n, m in enumerate(nodes_of(messages)):
        if isinstance(m, ModelResponse):
            blocks.append(ResponseBlock(k, n, m))
            calls = m.tool_calls
        else:
            blocks.append(ToolsBlock(k, n, m, attachments, image_url, calls=calls))
    return blocks


def StoredTurn(k: int, user_text: str, status: str, messages: Sequence[ModelMessage],
               attachments: Mapping[str, Sequence[Attachment]], meta: Mapping[str, Any], image_url: Any,
               files: Sequence[ChatFile] = ()) -> Any:
    blocks = MessageBlocks(k, messages, attachments, image_url)
    blocks += [NoticeBlock(n.get("message", ""), n.get("refs", ())) for n in meta.get("notices", [])]
    if status == "error" and meta.get("error"):
        blocks.append(ErrorBlock(meta["error"]))
    return TurnShell(k, user_text, *blocks, footer=TurnMeta(k, status, meta), files=files)
