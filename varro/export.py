"""A chat as Markdown or as a Jupyter notebook (nbformat 4): messages as markdown, code as code cells."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import nh3
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

from varro.chat.cells import TOOL_NAME, code_of
from varro.chat.content import Attachment, attachments_of, files_of, messages_of
from varro.db.models import Turn
from varro.files import human_size
from varro.packages import Environment, pip_line, used_packages
from varro.shell.result import PLOTLY_TYPE

ReadImage = Callable[[Attachment], bytes | None]


def _steps(turn: Turn) -> Iterator[tuple[str, Any]]:
    """("text", str) and ("cell", (code, ToolReturnPart | None, [Attachment])) in the order they happened."""
    messages = messages_of(turn.content)
    attachments = attachments_of(turn.content)
    returns = {p.tool_call_id: p for m in messages if isinstance(m, ModelRequest)
               for p in m.parts if isinstance(p, ToolReturnPart)}
    for m in messages:
        if not isinstance(m, ModelResponse):
            continue
        for part in m.parts:
            if isinstance(part, TextPart) and part.content.strip():
                yield "text", part.content
            elif isinstance(part, ToolCallPart) and part.tool_name == TOOL_NAME and (code := code_of(part)) is not None:
                yield "cell", (code, returns.get(part.tool_call_id), attachments.get(part.tool_call_id, []))


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^( {0,3})(#{1,6})(?=\s|$)")


def as_section(text: str, levels: int = 2) -> str:
    """A message's markdown made safe to nest under the export's `##` headings.

    Its headings go `levels` deeper (at most `######`), so they don't read as new turns; a fence left
    open (a stopped answer) is closed, so the rest of the file isn't swallowed into a code block.
    """
    out, fence = [], ""
    for line in text.split("\n"):
        if m := _FENCE.match(line):
            if not fence:
                fence = m.group(1)
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip(" `~"):
                fence = ""
        elif not fence:
            line = _HEADING.sub(lambda h: h.group(1) + "#" * min(6, len(h.group(2)) + levels), line)
        out.append(line)
    if fence:
        out.append(fence)
    return "\n".join(out)


def _meta(ret: ToolReturnPart | None) -> dict[str, Any]:
    return ret.metadata if ret is not None and isinstance(ret.metadata, dict) else {}


def attached_line(turn: Turn) -> str | None:
    """The files a message came with, in one line ("Attached: sales.csv (1.2 MB, text/csv)")."""
    files = files_of(turn.content)
    return "Attached: " + ", ".join(f"{f.name} ({human_size(f.size)}, {f.media_type})" for f in files) if files else None


def written_line(attachments: list[Attachment]) -> str | None:
    """The files a cell wrote (downloads in the page), in one line."""
    files = [a for a in attachments if a.is_file]
    return "Files written: " + ", ".join(f"{a.name} ({human_size(a.size or 0)})" for a in files) if files else None


def to_markdown(title: str, turns: Iterable[Turn], read_image: ReadImage) -> str:
    out = [f"# {title or 'Chat'}\n"]
    for turn in turns:
        out.append(f"## You\n\n{as_section(turn.user_text)}\n")
        if attached := attached_line(turn):
            out.append(f"*{attached}*\n")
        out.append("## Varro\n")
        for kind, value in _steps(turn):
            if kind == "text":
                out.append(as_section(value) + "\n")
                continue
            code, ret, images = value
            out.append(f"```python\n{code}\n```\n")
            if text := cell_text(ret):
                out.append(f"```text\n{text}\n```\n")
            # An HTML output (a DataFrame) as its table, through ammonia's allow-list: the file may be opened anywhere.
            out += [nh3.clean(html) + "\n" for html in _meta(ret).get("html", []) if isinstance(html, str)]
            if charts := len(_meta(ret).get("charts", [])):
                out.append(f"*({charts} interactive chart{'s' if charts > 1 else ''}: kept in the notebook export)*\n")
            if written := written_line(images):
                out.append(f"*{written}*\n")
            for att in images:
                if att.is_file:
                    continue
                data = read_image(att)
                if data is not None:
                    out.append(f"![figure](data:{att.media_type};base64,{base64.b64encode(data).decode()})\n")
            if status := cell_status(ret):
                out.append(f"*({STATUS_NOTE[status]})*\n")
        if turn.status != "complete":
            out.append(f"*({turn.status})*\n")
    return "\n".join(out)


# What the model read in place of outputs the page shows (varro/shell/result.py): not output, left out of exports.
_SHOWN = re.compile(r"^\[(?:[\w.+/-]+ output shown to the user.*|interactive Plotly chart shown to the user|"
                    r"files written, offered to the user as downloads: .*)\]$")
STATUS_NOTE = {"stopped": "stopped while it ran", "timed-out": "interrupted: it ran past its time limit"}


def cell_text(ret: ToolReturnPart | None) -> str:
    """A cell's text output for Markdown: streams, value and error, without the notes about what the page shows."""
    if ret is None:
        return "(no result)"
    meta = _meta(ret)
    if not meta:
        return "\n".join(line for line in ret.model_response_str().split("\n") if not _SHOWN.match(line)).strip()
    parts = [f"{meta[key].rstrip()}" for key in ("stdout", "stderr") if meta.get(key)]
    parts += [str(meta[key]).rstrip() for key in ("result", "error") if meta.get(key) and not
              (key == "result" and meta.get("result_html"))]
    return "\n".join(parts)


def cell_status(ret: ToolReturnPart | None) -> str | None:
    """"stopped" or "timed-out" for a cell that did not run to its end, else None."""
    meta = _meta(ret)
    return "stopped" if meta.get("stopped") else "timed-out" if meta.get("timed_out") else None


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _outputs(ret: ToolReturnPart | None, images: list[Attachment], read_image: ReadImage,
             count: int | None = None) -> list[dict[str, Any]]:
    meta = _meta(ret)
    outputs: list[dict[str, Any]] = []
    for name in ("stdout", "stderr"):
        if meta.get(name):
            outputs.append({"output_type": "stream", "name": name, "text": _lines(meta[name])})
    html = [h for h in meta.get("html", []) if isinstance(h, str)]
    if not meta.get("result_html"):
        outputs += [{"output_type": "display_data", "data": {"text/html": _lines(h)}, "metadata": {}} for h in html]
    outputs += [{"output_type": "display_data", "metadata": {},
                 "data": {PLOTLY_TYPE: json.loads(c), "text/plain": ["<Plotly chart>"]}}
                for c in meta.get("charts", []) if isinstance(c, str)]
    for att in images:
        data = read_image(att) if not att.is_file else None
        if data is not None:
            payload = base64.b64encode(data).decode() if att.media_type != "image/svg+xml" else data.decode()
            outputs.append({"output_type": "display_data", "data": {att.media_type: payload}, "metadata": {}})
    if meta.get("result"):
        bundle = {"text/plain": _lines(meta["result"])}
        if meta.get("result_html") and html:  # the value's rich form, as Jupyter keeps it (the last HTML output)
            bundle["text/html"] = _lines(html[-1])
        outputs.append({"output_type": "execute_result", "execution_count": count, "data": bundle, "metadata": {}})
    if meta.get("error"):
        first, *rest = meta["error"].splitlines() or ["Error"]
        ename, _, evalue = first.partition(": ")
        outputs.append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": rest})
    if not meta and ret is not None:
        outputs.append({"output_type": "stream", "name": "stdout", "text": _lines(ret.model_response_str())})
    return outputs


def _code_cell(code: str, ret: ToolReturnPart | None, outputs: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """A code cell numbered as it ran; one that failed says so (`raises-exception`, so a re-run goes on past it), and
    one that was stopped or ran out of time is tagged and marked in its metadata."""
    tags = ["raises-exception"] if any(o["output_type"] == "error" for o in outputs) else []
    meta: dict[str, Any] = {}
    if status := cell_status(ret):
        tags.append(status)
        meta["varro"] = {"status": status, "note": STATUS_NOTE[status]}
    if tags:
        meta["tags"] = tags
    return {"cell_type": "code", "execution_count": count, "metadata": meta, "source": _lines(code), "outputs": outputs}


def requirements_cell(packages: Mapping[str, str]) -> dict[str, Any]:
    """A first cell naming the packages the code imports, with the kernel's versions: uncommented, it installs them."""
    source = ("# The packages this chat's code imports, at the versions its kernel had. To run this notebook elsewhere,\n"
              f"# uncomment the next line and run it first.\n# {pip_line(packages)}")
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["requirements"]},
            "source": _lines(source), "outputs": []}


def to_notebook(title: str, turns: Iterable[Turn], read_image: ReadImage, environment: Environment | None = None) -> str:
    """The chat as a notebook; with the kernel's `environment` (from its kernel host), the packages its code imports
    are named in the metadata (`varro.packages`) and in a first cell."""
    turns = list(turns)
    packages = used_packages((v[0] for t in turns for k, v in _steps(t) if k == "cell"), environment) \
        if environment is not None else {}
    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "metadata": {}, "source": _lines(f"# {title or 'Chat'}")}]
    if packages:
        cells.append(requirements_cell(packages))
    count = 0
    for turn in turns:
        attached = attached_line(turn)
        cells.append({"cell_type": "markdown", "metadata": {"varro": {"role": "user", "turn": turn.idx}},
                      "source": _lines(f"**You:** {turn.user_text}" + (f"\n\n*{attached}*" if attached else ""))})
        for kind, value in _steps(turn):
            if kind == "text":
                cells.append({"cell_type": "markdown", "metadata": {"varro": {"role": "assistant", "turn": turn.idx}},
                              "source": _lines(value)})
            else:
                code, ret, images = value
                count += 1
                cells.append(_code_cell(code, ret, _outputs(ret, images, read_image, count), count))
                if written := written_line(images):
                    cells.append({"cell_type": "markdown", "metadata": {"varro": {"role": "files", "turn": turn.idx}},
                                  "source": _lines(f"*{written}*")})
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"}, "varro": {"packages": packages}},
        "cells": [{**c, "id": f"cell-{i}"} for i, c in enumerate(cells)],
    }
    return json.dumps(notebook, indent=1)
