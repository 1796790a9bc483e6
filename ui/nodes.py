"""Blocks for the nodes of a turn: live parts while streaming, and the finished blocks that replace them.

The same functions render a finished node live and a stored one on reload, so both look alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fasthtml.common import A, Button, Details, Div, Img, NotStr, Pre, Span, Summary
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ThinkingPart, ToolCallPart, ToolReturnPart

from ui import ids
from ui.files import FileLink
from ui.highlight import highlight_code
from ui.icons import Icon
from ui.md_blocks import render_blocks
from ui.outputs import RichOutputs
from ui.spliced import spliced
from varro.chat.content import Attachment
from varro.chat.events import CELL_OUTPUT
from varro.uploads import EXTENSIONS

TEXT_CLS = "assistant-text prose max-w-none break-words"
# Rendered markdown blocks are grouped in chunks of this many. A new block is appended to the last chunk
# only, so the browser restyles a bounded number of siblings (prose styles `p:last-of-type`), and chunks
# out of view are skipped by `content-visibility` (static/css/app.css): a frame costs the same at any length.
CHUNK_BLOCKS = 16
LIVE_CLS = {
    "text": "md-tail",  # holds provisionally rendered markdown (ui/provisional.py), not plain text
    "thinking": "whitespace-pre-wrap break-words text-sm opacity-70 italic",
    "tool_call": "whitespace-pre-wrap break-all font-mono text-xs",
}


def NodeContainer(k: int, n: int) -> Any:
    """An empty node container, appended to the turn's assistant area when a node starts."""
    return Div(id=ids.node(k, n), cls="node flex flex-col gap-2")


def MarkdownChunk(k: int, n: int, p: int, c: int, blocks: Sequence[str]) -> Any:
    return Div(NotStr("".join(blocks)), id=ids.chunk(k, n, p, c), cls="md-chunk")


def MarkdownChunks(k: int, n: int, p: int, blocks: Sequence[str], first: int = 0) -> list[Any]:
    """Rendered blocks in chunks of CHUNK_BLOCKS, numbered from `first`."""
    return [MarkdownChunk(k, n, p, first + i // CHUNK_BLOCKS, blocks[i : i + CHUNK_BLOCKS])
            for i in range(0, len(blocks), CHUNK_BLOCKS)]


def LivePart(k: int, n: int, p: int, kind: str, content: str, tool_name: str | None = None,
             blocks: Sequence[str] = ()) -> Any:
    """A part as it streams: `#block-k-n-p` around the element `#part-k-n-p` its deltas are appended to.

    A text part is already the finished block's container: markdown blocks that are complete (`blocks`,
    rendered once) sit in chunks before the open tail, whose `content` is its provisional HTML.
    """
    body = Div(NotStr(content) if kind == "text" else content, id=ids.part(k, n, p), cls=LIVE_CLS[kind])
    if kind == "thinking":
        return Details(Summary("Thinking…", cls="cursor-pointer text-sm opacity-70"), body, open=True, cls="thinking",
                       id=ids.block(k, n, p))
    if kind == "tool_call":
        return ToolFrame(tool_name or "tool", body, live=True, id=ids.block(k, n, p))
    return Div(*MarkdownChunks(k, n, p, blocks), body, id=ids.block(k, n, p), cls=TEXT_CLS)


def Delta(k: int, n: int, p: int, text: str) -> Any:
    """A streamed delta: appended to its live part as text (escaped; ui/spliced.py)."""
    return spliced("span", ids.part(k, n, p), "beforeend").text(text)


def Append(target: str, text: str) -> Any:
    """Plain characters appended to a provisionally rendered tail, at its caret (escaped; ui/spliced.py)."""
    return spliced("span", target, "beforeend").text(text)


def ToChunk(k: int, n: int, p: int, c: int, blocks: Sequence[str]) -> Any:
    """Markdown blocks of a streaming text that just became complete, appended once to its last chunk."""
    return Div(NotStr("".join(blocks)), id=ids.chunk(k, n, p, c), hx_swap_oob="beforeend")


def NewChunks(k: int, n: int, p: int, chunks: Sequence[Any]) -> Any:
    """New chunks of complete blocks, inserted before the open tail."""
    return Div(*chunks, id=ids.part(k, n, p), hx_swap_oob="beforebegin")


def TailHtml(k: int, n: int, p: int, html: str) -> Any:
    """The open tail of a streaming text rendered anew (provisionally, ui/provisional.py); `html` is sanitized."""
    return spliced("div", ids.part(k, n, p), "innerHTML").html(html)


def OpenPiece(target: str, tag: str, html: str, swap: str) -> Any:
    """The open piece of a streaming block (ui/open_block.py): its content anew (`innerHTML`), or settled pieces
    inserted before it (`beforebegin`, in a `tag` they can be parsed in: a `<tr>` only parses inside a table part)."""
    return spliced(tag, target, swap).html(html)


def Remove(target: str) -> Any:
    """Delete the element with this id (a finished text's tail, or a part that ended up empty)."""
    return Div(id=target, hx_swap_oob="delete")


def ToolFrame(tool_name: str, *body: Any, live: bool = False, id: str | None = None) -> Any:
    label = Span(tool_name, cls="badge badge-outline badge-sm font-mono")
    return Div(Div(label, Span("running…" if live else "", cls="text-xs opacity-60"), cls="flex items-center gap-2"),
               *body, id=id, cls="tool-call rounded-box border border-base-300 bg-base-200 p-2 flex flex-col gap-1")


def TextBlock(k: int, n: int, p: int, text: str) -> Any:
    """Finished markdown, in the chunks the live stream built (a reload looks the same)."""
    return Div(*MarkdownChunks(k, n, p, render_blocks(text)), id=ids.block(k, n, p), cls=TEXT_CLS)


def ThinkingBlock(text: str, id: str | None = None, oob: bool = False) -> Any:
    return Details(Summary("Thought", cls="cursor-pointer text-sm opacity-70"),
                   Div(text, cls="whitespace-pre-wrap text-sm opacity-70 italic"), id=id, cls="thinking",
                   hx_swap_oob="true" if oob else None)


CUT_OFF = "The model's call was cut off (its arguments are incomplete, often at the answer length limit), so it did not run."


def _code_arg(call: ToolCallPart) -> tuple[str | None, str, bool]:
    """(code, other arguments as text, whether the call was cut off)."""
    try:
        args = call.args_as_dict()
    except Exception:  # a model sent arguments that are not JSON: show them as they came
        args = {"INVALID_JSON": call.args if isinstance(call.args, str) else json.dumps(call.args)}
    if set(args) == {"INVALID_JSON"}:  # pydantic-ai's marker for arguments that did not parse
        return None, str(args["INVALID_JSON"]), True
    code = args.get("code")
    return (code, "", False) if isinstance(code, str) else (None, json.dumps(args, indent=2), False)


def call_numbers(calls: Sequence[ToolCallPart]) -> dict[str, int]:
    """Numbers for the calls of one response, when it made more than one, so each output names its call."""
    return {c.tool_call_id: i + 1 for i, c in enumerate(calls)} if len(calls) > 1 else {}


def ToolCallBlock(call: ToolCallPart, id: str | None = None, oob: bool = False, number: int | None = None) -> Any:
    code, raw, cut_off = _code_arg(call)
    if cut_off:
        # Wrapped: a cut-off call is one long unbroken line of JSON, which would widen the card past the page.
        body: Any = Div(Div(CUT_OFF, cls="text-warning text-sm", data_testid="cut-off-call"),
                        Pre(raw, cls="text-xs whitespace-pre-wrap break-all", data_testid="cut-off-args"))
    elif code is not None:
        body = Pre(NotStr(highlight_code(code, "python")), cls="code-block")
    else:
        body = Pre(raw, cls="text-xs whitespace-pre-wrap break-all")
    name = f"{call.tool_name} · call {number}" if number else call.tool_name
    block = ToolFrame(name, body, id=id)
    block.attrs["data-tool-call-id"] = call.tool_call_id
    if oob:
        block.attrs["hx-swap-oob"] = "true"
    return block


def ResponseBlock(k: int, n: int, response: ModelResponse, oob: bool = False) -> Any:
    """A finished model response: markdown text, collapsed thinking, tool calls with their code."""
    blocks, numbers = [], call_numbers(response.tool_calls)
    for p, part in enumerate(response.parts):
        if isinstance(part, TextPart) and part.content.strip():
            blocks.append(TextBlock(k, n, p, part.content))
        elif isinstance(part, ThinkingPart) and part.content.strip():
            blocks.append(ThinkingBlock(part.content, ids.block(k, n, p)))
        elif isinstance(part, ToolCallPart):
            blocks.append(ToolCallBlock(part, ids.block(k, n, p), number=numbers.get(part.tool_call_id)))
    if any(isinstance(p, TextPart) and p.content.strip() for p in response.parts):
        blocks.append(CopyAnswer())
    return Div(*blocks, id=ids.node(k, n), cls="node flex flex-col gap-2", hx_swap_oob="true" if oob else None)


def CopyAnswer() -> Any:
    return Div(Button(Icon("copy", 14), "Copy", type="button", data_action="copy-answer", aria_label="Copy answer",
                      cls="btn btn-ghost btn-xs"), cls="flex opacity-70")


def _output(label: str, text: str | None, cls: str = "") -> Any:
    if not text:
        return None
    return Div(Span(label, cls="text-xs opacity-60"), Pre(text, cls=f"text-xs whitespace-pre-wrap break-words {cls}"))


def download_url(url: str, name: str) -> str:
    """The stored file at `url`, served as a download named `name`."""
    return f"{url}?{urlencode({'download': name})}"


def Figure(src: str, name: str, width: int | None = None, height: int | None = None) -> Any:
    """A figure inline, with a link that downloads it; with its pixel size, its box is there before it loads."""
    return Div(Img(src=src, alt="Figure from the code", loading="lazy", width=width, height=height,
                   cls="max-w-full h-auto rounded bg-white"),
               A(Icon("download", 14), "Download figure", href=download_url(src, name), download=name,
                 cls="link text-xs inline-flex gap-1 items-center", data_testid="figure-download"),
               cls="flex flex-col gap-1 items-start")


def FullOutput(url: str, name: str) -> Any:
    """The link to the whole output of a cell whose card shows only its head and tail."""
    return A(Icon("download", 14), "Download full output", href=url, download=name, data_testid="full-output",
             cls="link text-xs inline-flex gap-1 items-center")


def ToolResult(ret: ToolReturnPart, attachments: Sequence[Attachment], image_url: Any, number: int | None = None,
               output_url: Any = None) -> Any:
    """stdout, stderr, the value, an error, and images, from the stored cell result (or plain text)."""
    meta = ret.metadata if isinstance(ret.metadata, Mapping) else None
    if meta is None:
        outputs = [_output("output", ret.model_response_str())]
    else:
        outputs = [
            _output("stdout", meta.get("stdout")),
            _output("stderr", meta.get("stderr"), "text-warning"),
            # A value with an HTML form (a DataFrame) shows as its table below, not as text.
            None if meta.get("result_html") else _output("result", meta.get("result")),
            _output("error", meta.get("error"), "text-error"),
            # The page's own icons, not emoji: a machine without an emoji font showed an empty box.
            Div(Icon("clock", 14), "Interrupted: the cell ran past its time limit.",
                cls="text-warning text-sm flex items-center gap-1", data_testid="cell-timed-out")
            if meta.get("timed_out") else None,
            Div(Icon("stop", 14), "Stopped while it ran; what it printed is kept.",
                cls="text-warning text-sm flex items-center gap-1", data_testid="cell-stopped")
            if meta.get("stopped") else None,
        ]
    images = [a for a in attachments if not a.is_file]
    figures = [Figure(image_url(a.path), f"figure-{i + 1}.{EXTENSIONS.get(a.media_type, 'png')}", a.width, a.height)
               for i, a in enumerate(images)]
    files = [FileLink(a.name or "file", a.size, download_url(image_url(a.path), a.name or "file"))
             for a in attachments if a.is_file]
    written = Div(Span("files", cls="text-xs opacity-60"), *files, cls="flex flex-wrap gap-x-3 items-baseline",
                  data_testid="files-out") if files else None
    tables = RichOutputs(meta) if meta is not None else []
    saved = meta.get("output_file") if meta is not None else None  # ".outputs/cell-….txt": the whole output
    if isinstance(saved, str) and output_url is not None:
        outputs.append(FullOutput(output_url(saved.rpartition("/")[2]), saved.rpartition("/")[2]))
    body = [o for o in outputs if o is not None] + tables + figures + ([written] if written else [])
    if not body:
        body = [Span("(no output)", cls="text-xs opacity-60")]
    label = f"Output of call {number}" if number else "Output"
    return Details(Summary(label, cls="cursor-pointer text-xs opacity-70"), Div(*body, cls="flex flex-col gap-1"),
                   open=True, cls="tool-result rounded-box border border-base-300 p-2",
                   data_tool_call_id=ret.tool_call_id)


def LiveCell(k: int, n: int, started_at: float) -> Any:
    """A cell while it runs: what it prints, as it prints it, under a running clock (chat.js ticks it)."""
    return Div(
        Div(Span("Running", cls="animate-pulse", data_state="running"), Span("0.0 s", data_elapsed="", data_testid="elapsed"),
            cls="flex gap-2 text-xs opacity-70"),
        Pre(id=ids.part(k, n, CELL_OUTPUT), cls="text-xs whitespace-pre-wrap break-words", data_testid="live-output"),
        cls="live-cell rounded-box border border-base-300 p-2 flex flex-col gap-1",
        data_started=str(round(started_at * 1000)), data_testid="live-cell",
    )


def ToolsBlock(k: int, n: int, request: ModelRequest, attachments: Mapping[str, Sequence[Attachment]],
               image_url: Any, oob: bool = False, calls: Sequence[ToolCallPart] = (), output_url: Any = None) -> Any:
    """A finished tool step: one result block per tool return, in the order of the calls, each naming its call."""
    numbers = call_numbers(calls)
    order = {c.tool_call_id: i for i, c in enumerate(calls)}
    returns = sorted((p for p in request.parts if isinstance(p, ToolReturnPart)),
                     key=lambda p: order.get(p.tool_call_id, len(order)))
    results = [ToolResult(p, attachments.get(p.tool_call_id, ()), image_url, numbers.get(p.tool_call_id), output_url)
               for p in returns]
    return Div(*results, id=ids.node(k, n), cls="node flex flex-col gap-2", hx_swap_oob="true" if oob else None)
