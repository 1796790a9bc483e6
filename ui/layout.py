"""The chat page: header, the turn list, the status line and the input bar."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fasthtml.common import A, Button, Div, Footer, Form, Input, Main, Option, P, Select, Span, Textarea, Title

from ui import ids
from ui.alpine import bind, on
from ui.files import ComposerChips, FilePreviewSlot
from ui.header import ChatHeader
from ui.icons import Icon
from ui.share import ShareDialog
from ui.sidebar import Sidebar
from ui.turns import LoadEarlier
from varro.agent.choices import ModelChoice
from varro.db.models import Chat

PICKED = "[data-testid=model-picker]"


def ModelPicker(choices: Sequence[ModelChoice], picked: str) -> Any:
    """The model for the next turn (VARRO_MODELS): a field of the send form, so it travels with the message."""
    if not choices:
        return None
    options = [Option(c.label, value=c.key, selected=c.key == picked) for c in choices]
    return Select(*options, name="model", aria_label="Model for the next answer", title="Model for the next answer",
                  # On a phone it goes on a line of its own under the input, which keeps the width to write in.
                  cls="select select-bordered select-sm w-auto max-w-48 self-center max-sm:order-last",
                  data_testid="model-picker")


def ChatInput(max_chars: int, files_url: str = "", picker: Any = None) -> Any:
    """The input bar: a textarea that sends on Enter, the model picker, the send button, and the stop button.

    `max_chars` is the server's limit: the page refuses a longer message itself and keeps the draft.
    """
    return Footer(
        Form(
            Input(type="hidden", name="action", value="send"),
            ComposerChips(),
            FilePreviewSlot(),
            # A real button that opens the hidden picker (a <label> may not take the button role).
            Input(type="file", multiple=True, cls="hidden", data_testid="attach-input", x_ref="picker",
                  tabindex="-1", aria_hidden="true", aria_label="Attach files", **on("change", "picked")),
            Button(Icon("paperclip"), type="button", cls="btn btn-ghost", aria_label="Attach files",
                   title="Attach files (or drop or paste them here)", data_testid="attach", **on("click", "openPicker")),
            Textarea(id=ids.INPUT, name="msg", rows="1", placeholder="Message Varro…  (Enter to send, Shift+Enter for a new line)",
                     aria_label="Message", data_max_chars=str(max_chars), cls="textarea textarea-bordered flex-1 min-w-48 resize-none min-h-11 max-h-48",
                     x_ref="input", **on("keydown", "onKeydown"), **on("input", "autosize")),
            picker,
            Button(Icon("send"), cls="btn btn-primary", data_testid="send", aria_label="Send",
                   **bind("disabled", "running"), x_show="idle"),
            id=ids.FORM, ws_send=True, cls="flex flex-wrap items-end gap-2 flex-1", data_files_url=files_url,
        ),
        Form(
            Input(type="hidden", name="action", value="stop"),
            Button(Icon("stop"), cls="btn btn-warning", data_testid="stop", aria_label="Stop"),
            ws_send=True, x_show="running", x_cloak=True, x_ref="stopForm",
        ),
        # "Run" and "Edit & run" (blocks.js) put the code here and submit it: the user's own cell, over the socket.
        Form(Input(type="hidden", name="action", value="run"), Input(type="hidden", name="code"),
             ws_send=True, hidden=True, x_ref="runForm"),
        cls="flex gap-2 p-2 border-t border-base-300 shrink-0",
    )


EXAMPLES = (
    ("Explain something", "Explain how rivers shape the landscapes around them"),
    ("Run some Python", "Run this:\n```python\nprimes = [n for n in range(2, 60) if all(n % d for d in range(2, n))]\n"
                        "print(len(primes), primes[-5:])\n```"),
    ("Make a plot", "Plot a histogram of 1,000 random numbers"),
)


def Welcome(model_label: str, model_help: str) -> Any:
    """Shown in an empty chat (CSS hides it once a turn exists): what Varro does, and prompts to try."""
    prompts = [
        Form(Input(type="hidden", name="action", value="send"), Input(type="hidden", name="msg", value=text),
             Button(Span(label, cls="font-semibold"), Span(text.split("\n")[0], cls="text-xs opacity-70 truncate w-full"),
                    cls="btn btn-outline h-auto py-2 flex-col items-start w-full normal-case text-left",
                    data_testid=f"example-{i}"),
             ws_send=True, cls="min-w-0", hx_include=PICKED)  # answered by the picked model, like the input
        for i, (label, text) in enumerate(EXAMPLES)
    ]
    return Div(
        P("What can I help with?", cls="text-2xl font-semibold"),
        P("Ask anything. I can run Python in a shell that remembers your variables, and draw plots.",
          cls="opacity-70"),
        Div(*prompts, cls="grid gap-2 sm:grid-cols-3 w-full"),
        P(f"Model: {model_label}. {model_help}", cls="text-xs opacity-70", data_testid="model-help"),
        cls="welcome flex flex-col items-center text-center gap-3 py-10", data_testid="welcome",
    )


def ChatPage(chat: Chat, turns: Any, model_label: str, urls: dict[str, Any], shell_status: str = "not started",
             max_chars: int = 20_000, picker: tuple[Sequence[ModelChoice], str] = ((), ""),
             earlier: str | None = None) -> Any:
    """The whole chat page; `turns` are the rendered stored turns shown (the latest, in a long chat); `earlier`: where
    the turns before them are fetched from, if there are any; `picker`: the models offered, and the picked one."""
    return (
        Title(f"{chat.title or 'New chat'} · Varro"),
        Div(
            A("Skip to the message box", href=f"#{ids.INPUT}", data_testid="skip-link", **on("click.prevent", "focusInput"),
              cls="sr-only focus:not-sr-only focus:absolute focus:z-30 focus:m-2 btn btn-sm btn-primary"),
            Sidebar(urls["sidebar"]) if "sidebar" in urls else None,
            ShareDialog() if "shares" in urls else None,
            Div(
                ChatHeader(chat, model_label, urls, shell_status),
                Main(
                    Div(LoadEarlier(earlier), cls="flex justify-center"),
                    # A log region that is busy while an answer streams: screen readers wait for the
                    # finished turn instead of reading every token; #progress announces the state.
                    Div(Welcome(model_label, urls["model_help"]), *turns, id=ids.TURNS, role="log", aria_live="polite", aria_relevant="additions",
                        aria_label="Conversation", **bind("aria-busy", "busy"),
                        data_placing="",  # hidden until chat.js has put it at its end: the first paint is the last one
                        cls="flex flex-col gap-4 max-w-3xl mx-auto w-full p-3"),
                    id=ids.SCROLL, cls="flex-1 overflow-y-auto overflow-x-hidden", x_ref="scroller", **on("scroll", "onScroll"),
                    **on("wheel.passive", "onWheel"),
                ),
                Button("Jump to latest ↓", cls="btn btn-sm btn-neutral fixed bottom-24 left-1/2 -translate-x-1/2 z-10",
                       x_show="showJump", x_cloak=True, **on("click", "jumpToLatest"), data_testid="jump-latest"),
                ConnectionLost(),
                DropHint(),
                Div(id=ids.NOTICES, cls="max-w-3xl mx-auto w-full px-3"),
                Progress("idle"),
                ChatInput(max_chars, urls.get("files", ""), ModelPicker(*picker)),
                cls="flex flex-col flex-1 min-w-0 h-dvh",
            ),
            # htmx sends the session's token with every request it makes (app/csrf.py).
            id=ids.CHAT, x_data="chat", **on("dragover.prevent", "dragOver"), **on("drop.prevent", "dropped"),
            **on("dragleave", "dragLeft"),
            **on("paste", "pasted"), hx_ext="ws", ws_connect=urls["ws"],
            hx_headers=json.dumps({"X-CSRF-Token": urls["csrf"]}),
            data_chat_id=str(chat.id), data_answer_url=urls["answer"], data_plotly_src=urls.get("plotly", ""),
            data_plotly_css=urls.get("plotly_css", ""), data_grid_src=urls.get("grid", ""),
            data_grid_css=urls.get("grid_css", ""),
            cls="flex h-dvh bg-base-100 text-base-content",
        ),
    )


def DropHint() -> Any:
    """Shown while files are dragged over the chat: where they go if dropped (files.js)."""
    return Div(Div(Icon("paperclip", 28), Span("Drop files to attach them to your message"), cls="drop-hint-box"),
               x_show="dragging", x_cloak=True, cls="drop-hint", data_testid="drop-hint", aria_hidden="true")


def ConnectionLost() -> Any:
    """Shown by chat.js while the socket is down and being reopened; the server cannot say it, so it is in the page."""
    return Div(Span("Connection lost. Reconnecting…"), role="status", x_show="offline", x_cloak=True,
               cls="alert alert-warning text-sm max-w-3xl mx-auto w-full", data_testid="connection-lost")


def ChatGone(chats_url: str) -> Any:
    """A chat that is not there (deleted, or never yours): say so, and offer the way back."""
    return (
        Title("Chat not found · Varro"),
        Main(
            P("This chat is not here", cls="text-2xl font-semibold"),
            P("It may have been deleted, or the link is wrong.", cls="opacity-80"),
            A("Back to your chats", href=chats_url, cls="btn btn-primary", data_testid="back-to-chats"),
            cls="flex flex-col items-center justify-center gap-3 h-dvh bg-base-100 text-base-content p-4 text-center",
        ),
    )


def Progress(state: str, detail: str = "", oob: bool = False) -> Any:
    """The status line: thinking, running a tool, or done. `data-running` drives input locking.

    It is the page's status region: a screen reader hears "Responding…" and "Done", not every token.
    """
    label = {"thinking": "Thinking…", "writing": "Writing…", "tool": f"Running {detail or 'a tool'}…",
             "restoring": f"Restoring Python state… ({detail})" if detail else "Restoring Python state…"}.get(state, "")
    running = state in ("thinking", "writing", "tool", "restoring")
    # A pulsing label rather than DaisyUI's loading dots: those are an SMIL-animated SVG used as a mask, which
    # cost ~5 ms of style work in the turn's first frame and a repaint on every frame of the stream.
    return Div(
        Span("Responding… " if running else "Done", cls="sr-only") if state != "idle" else None,
        Span(label, cls="text-sm opacity-70 animate-pulse" if running else "text-sm opacity-70", aria_hidden="true"),
        id=ids.PROGRESS, data_running="true" if running else "false", data_state=state, role="status",
        cls="max-w-3xl mx-auto w-full px-4 h-6 flex items-center gap-2",
        hx_swap_oob="true" if oob else None,
    )
