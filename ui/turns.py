"""A turn: the user's bubble and the assistant's area, live or rendered from what was stored."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fasthtml.common import A, Button, Code, Div, Form, Input, NotStr, Pre, Span, Textarea
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart

from ui import ids
from ui.alpine import bind, on
from ui.files import MessageFiles
from ui.highlight import highlight_code
from ui.icons import Icon
from ui.nodes import ResponseBlock, ToolsBlock
from varro.chat.content import Attachment, nodes_of
from varro.files import ChatFile

_USER_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$\n?", re.M | re.S)


def UserText(text: str) -> list[Any]:
    """The user's words as they typed them, except that a fenced code block shows as code (highlighted, scrolling
    sideways) rather than as backticks: the rest is not markdown, as a person's message rarely means it to be."""
    out: list[Any] = []
    at = 0
    for m in _USER_FENCE.finditer(text):
        if prose := text[at:m.start()].strip("\n"):
            out.append(Span(prose))
        code = NotStr(highlight_code(m[3].rstrip("\n"), m[2] or None))
        out.append(Pre(Code(code), cls="code-block user-code text-left whitespace-pre overflow-auto my-1",
                       data_testid="user-code"))
        at = m.end()
    if rest := text[at:].strip("\n") if out else text:
        out.append(Span(rest))
    return out


def VersionSwitch(k: int, to: int, label: str, glyph: str, testid: str) -> Any:
    """One arrow of the versions switch: a tiny form that asks the server to show version `to` (from 0) of turn k."""
    return Form(Input(type="hidden", name="action", value="switch"), Input(type="hidden", name="turn", value=str(k)),
                Input(type="hidden", name="to", value=str(to)),
                Button(glyph, cls="btn btn-ghost btn-xs px-1", aria_label=label, title=label, data_testid=testid),
                ws_send=True, cls="inline")


def Versions(k: int, versions: tuple[int, int] | None) -> Any:
    """"‹ i/n ›" under a turn with more than one version (an edit or a regeneration made the others); the arrows
    show the version before or after, with the branch that follows it. Nothing for a turn with one version."""
    if versions is None:
        return None
    i, n = versions
    prev = VersionSwitch(k, i - 2, "Previous version", "‹", f"version-prev-{k}") if i > 1 else None
    after = VersionSwitch(k, i, "Next version", "›", f"version-next-{k}") if i < n else None
    return Div(prev, Span(f"{i}/{n}", cls="tabular-nums", data_testid=f"version-of-{k}"), after,
               id=ids.versions(k), cls="versions flex items-center gap-0.5 text-xs", role="group",
               aria_label=f"Version {i} of {n}", data_testid=ids.versions(k))


def UserBubble(k: int, text: str, files: Sequence[ChatFile] = (), versions: tuple[int, int] | None = None) -> Any:
    """The user's message, with an inline editor ("Save & regenerate") behind its Edit button, and the versions
    switch when the turn has more than one. Saving keeps the version it replaces (docs/design.md, "Versions")."""
    return Div(
        Div(
            Div(*UserText(text), cls="whitespace-pre-wrap break-words", x_show="notEditing",
                data_testid=f"user-text-{k}"),
            MessageFiles(files),
            Form(
                Input(type="hidden", name="action", value="edit"),
                Input(type="hidden", name="turn", value=str(k)),
                Textarea(text, name="msg", rows="3", cls="textarea textarea-bordered w-full text-base-content",
                         aria_label="Edit message", x_ref="editor", **on("keydown.escape.stop", "cancel")),
                Div(Button("Cancel", type="button", cls="btn btn-sm", **on("click", "cancel")),
                    Button("Save & regenerate", cls="btn btn-sm btn-primary", data_testid=f"save-edit-{k}"),
                    cls="flex gap-2 justify-end mt-1"),
                ws_send=True, x_show="editing", x_cloak=True, data_turn=str(k),
            ),
            cls="chat-bubble chat-bubble-primary max-w-[85%]",
        ),
        Div(Versions(k, versions),
            Button(Icon("edit", 14), cls="btn btn-ghost btn-xs", aria_label="Edit message", data_testid=f"edit-{k}",
                   **on("click", "start"), x_show="notEditing", x_ref="editButton"),
            cls="chat-footer opacity-60 flex items-center gap-1"),
        id=ids.user(k), cls="chat chat-end", x_data="editable",
    )


def TurnShell(k: int, user_text: str, *assistant: Any, footer: Any = None, files: Sequence[ChatFile] = (),
              versions: tuple[int, int] | None = None) -> Any:
    return Div(
        UserBubble(k, user_text, files, versions),
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
    return Div(Icon("alert", 16), Span(message), role="alert", cls="alert alert-error alert-soft text-sm")


def NoticeBlock(message: str, refs: Sequence[Sequence[Any]] = (), offer: bool = False) -> Any:
    """A notice in an answer; `refs` (turn index, start of its message) link to the turns it is about; with `offer`,
    a button that runs a restore's offered cells (the `rerun` action)."""
    links = [A(f"“{text}”", href=f"#{ids.turn(int(k))}", cls="link", data_testid=f"notice-ref-{k}") for k, text in refs]
    if offer:
        links.append(Form(Input(type="hidden", name="action", value="rerun"),
                          Button("Run these again", cls="btn btn-xs btn-outline", data_testid="rerun-cells",
                                 **bind("disabled", "running")), ws_send=True))
    # The text in the page's own colour on the soft info tint: the info colour itself was 2.1:1 on it (WCAG: 4.5:1).
    return Div(Span(message), *links, role="status",
               cls="alert alert-info alert-soft text-base-content text-sm flex flex-wrap gap-x-2", data_testid="notice")


CUT_OFF = "The server stopped (a restart, or a crash) while this answer was being written; what it had written is kept."


def StopMarker(k: int, status: str, meta: Mapping[str, Any]) -> Any:
    """"Stopped" for the user's own stop; "Cut off" for an answer the server's going down ended (stored on the way
    down, or found `running` by the next start, which never timed it)."""
    if status != "stopped":
        return None
    if meta.get("cut") or "duration_ms" not in meta:
        return Span("Cut off", cls="badge badge-outline badge-warning badge-sm", title=CUT_OFF, data_testid=f"cut-off-{k}")
    return Span("Stopped", cls="badge badge-warning badge-sm", data_testid=f"stopped-{k}")


def TurnMeta(k: int, status: str, meta: Mapping[str, Any], oob: bool = False) -> Any:
    """Quiet per-turn facts: stopped marker, model, tokens, time."""
    usage = meta.get("usage") or {}
    bits = [meta.get("model_label") or meta.get("model")]  # the label the picker showed (VARRO_MODELS)
    if usage.get("output_tokens") is not None:
        about = "≈ " if usage.get("estimated") else ""  # cut short before the provider reported its count
        bits.append(f"{about}{usage.get('input_tokens', 0)} in · {usage['output_tokens']} out tokens")
    if meta.get("duration_ms") is not None:
        bits.append(f"{meta['duration_ms'] / 1000:.1f} s")
    marker = StopMarker(k, status, meta)
    # Shown on the last turn only (CSS): an edit of it with the same text (chat.js).
    regenerate = Button(Icon("refresh", 14), "Regenerate", type="button", cls="regenerate btn btn-ghost btn-xs",
                        data_action="regenerate", data_testid=f"regenerate-{k}", aria_label="Regenerate the answer",
                        title="Regenerate (Alt+R)")
    # opacity-70 keeps the quiet look at 4.5:1 contrast or more in both themes (WCAG AA).
    return Div(marker, Span(" · ".join(str(b) for b in bits if b), cls="opacity-70"), regenerate,
               id=ids.meta(k), cls="turn-meta text-xs flex gap-2 items-center", data_status=status,
               hx_swap_oob="true" if oob else None)


def MessageBlocks(k: int, messages: Sequence[ModelMessage], attachments: Mapping[str, Sequence[Attachment]],
                  image_url: Any, output_url: Any = None) -> list[Any]:
    """Node blocks numbered as the live stream numbers them: one per response, one per tool step."""
    blocks: list[Any] = []
    calls: list[ToolCallPart] = []
    for n, m in enumerate(nodes_of(messages)):
        if isinstance(m, ModelResponse):
            blocks.append(ResponseBlock(k, n, m))
            calls = m.tool_calls
        else:
            blocks.append(ToolsBlock(k, n, m, attachments, image_url, calls=calls, output_url=output_url))
    return blocks


def StoredTurn(k: int, user_text: str, status: str, messages: Sequence[ModelMessage],
               attachments: Mapping[str, Sequence[Attachment]], meta: Mapping[str, Any], image_url: Any,
               files: Sequence[ChatFile] = (), output_url: Any = None,
               versions: tuple[int, int] | None = None) -> Any:
    blocks = MessageBlocks(k, messages, attachments, image_url, output_url)
    # Each notice after the node it was given in (a restore's: the tool step whose cell needed it), as the live page
    # placed it; a notice stored with no node (older turns) at the end.
    after: dict[int, list[Any]] = {}
    for n in meta.get("notices", []):
        at = n.get("node")
        after.setdefault(at if isinstance(at, int) and 0 <= at < len(blocks) else len(blocks) - 1, []).append(
            NoticeBlock(n.get("message", ""), n.get("refs", ()), bool(n.get("offer"))))
    blocks = [*after.get(-1, []), *(x for i, b in enumerate(blocks) for x in (b, *after.get(i, [])))]
    if status == "error" and meta.get("error"):
        blocks.append(ErrorBlock(meta["error"]))
    return TurnShell(k, user_text, *blocks, footer=TurnMeta(k, status, meta), files=files, versions=versions)
