"""Output caps that bite inside the kernel, before a byte is sent to the server.

The server keeps only so much of a cell's output (varro/shell/result.py); without these, a cell printing a GiB
would still send that GiB over the socket for the server to decode and drop. Here each cell may send at most
`TEXT_CAP` characters per stream, rich outputs have their large parts cut, and at the end of the cell the kernel
reports what it held back in one display bundle of its own type (`DROPPED_TYPE`), which the server folds into its
usual truncation note. Keyed by the request that caused the output, so each cell starts with a full budget.

A stream that runs past its cap keeps its head (sent as it is printed) and its tail (the last `TAIL_CAP` characters,
sent with the report), and the whole of the cell's output is written by the kernel itself into the chat's working
directory (full_output.py), where the page offers it as a download and later code can read it.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

import full_output  # beside this file
from ipykernel import iostream, zmqshell

TEXT_CAP = int(os.environ.get("VARRO_KERNEL_TEXT_CAP", "20000"))  # as the server's MAX_TEXT_CHARS
TAIL_CAP = TEXT_CAP // 4  # of those, kept for the end of a stream that ran past them: the head gets the rest
HEAD_CAP = TEXT_CAP - TAIL_CAP
HTML_CAP = 200_000  # as the server's MAX_HTML_CHARS
IMAGE_CAP = 8 * 2**20  # base64 characters of one image
IMAGES_PER_CELL = 20
DROPPED_TYPE = "application/vnd.varro.dropped+json"
PLOTLY_TYPE = "application/vnd.plotly.v1+json"
CHART_CAP = 2_000_000  # characters of one chart's JSON, as the server's MAX_CHART_CHARS

_sent: dict[tuple[str, str], int] = defaultdict(int)  # (request id, stream name) -> characters sent
_dropped: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # request id -> what -> count
_images: dict[str, int] = defaultdict(int)


def _request(header: Any) -> str:
    return str((header or {}).get("msg_id", ""))


_write = iostream.OutStream.write


def write(self: iostream.OutStream, string: str) -> int | None:
    key = (_request(self.parent_header), self.name)
    full_output.add(key[0], string)
    room = HEAD_CAP - _sent[key]
    if room <= 0:
        _tails[key].add(string)
        return len(string)
    if len(string) > room:
        _tails[key].add(string[room:])
        string = string[:room]
    _sent[key] += len(string)
    return _write(self, string)


class _Tail:
    """The last `TAIL_CAP` characters of what a stream held back, and how many came before them."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.before = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * TAIL_CAP:  # joined now and then, not at every write: a loop of prints stays cheap
            joined = "".join(self.parts)
            self.before += len(joined) - TAIL_CAP
            self.parts, self.size = [joined[-TAIL_CAP:]], TAIL_CAP

    def value(self) -> tuple[int, str]:
        joined = "".join(self.parts)
        return self.before + max(0, len(joined) - TAIL_CAP), joined[-TAIL_CAP:]


_tails: dict[tuple[str, str], _Tail] = defaultdict(_Tail)


def cap_bundle(data: dict[str, Any], request: str) -> dict[str, Any]:
    """A display bundle with its parts past their caps left out (and counted)."""
    kept: dict[str, Any] = {}
    for mime, value in data.items():
        if mime == "text/html" and isinstance(value, str) and len(value) > HTML_CAP:
            _dropped[request]["html"] += 1
        elif mime.startswith("image/") and isinstance(value, str) and len(value) > IMAGE_CAP:
            _dropped[request]["images"] += 1
        elif mime == PLOTLY_TYPE and len(json.dumps(value, default=str)) > CHART_CAP:
            _dropped[request]["html"] += 1
        elif mime == "text/plain" and isinstance(value, str) and len(value) > TEXT_CAP:
            kept[mime] = value[:TEXT_CAP]
            _dropped[request]["stdout"] += len(value) - TEXT_CAP
        else:
            kept[mime] = value
    if any(mime.startswith("image/") for mime in kept):
        _images[request] += 1
        if _images[request] > IMAGES_PER_CELL:
            _dropped[request]["images"] += 1
            kept = {mime: value for mime, value in kept.items() if not mime.startswith("image/")}
    return kept


_publish = zmqshell.ZMQDisplayPublisher.publish


def publish(self: zmqshell.ZMQDisplayPublisher, data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    if DROPPED_TYPE not in data:
        data = cap_bundle(data, _request(self.parent_header))
    _publish(self, data, *args, **kwargs)


_write_format_data = zmqshell.ZMQShellDisplayHook.write_format_data


def write_format_data(self: zmqshell.ZMQShellDisplayHook, format_dict: dict[str, Any], md_dict: Any = None) -> None:
    _write_format_data(self, cap_bundle(format_dict, _request(self.parent_header)), md_dict)


def report(shell: Any) -> None:
    """After each cell: say what was held back, once, and forget the cell's counts."""
    request = _request(shell.parent_header)
    dropped: dict[str, Any] = dict(_dropped.pop(request, {}))
    cut = False
    for name in ("stdout", "stderr"):
        _sent.pop((request, name), None)
        if (tail := _tails.pop((request, name), None)) is not None:
            middle, dropped[f"{name}_tail"] = tail.value()
            dropped[name] = dropped.get(name, 0) + middle
            cut = True
    _images.pop(request, None)
    if (file := full_output.finish(request, cut)) is not None:
        dropped["file"] = file
    if dropped:
        shell.display_pub.publish({DROPPED_TYPE: dropped}, metadata={})


def install() -> None:
    full_output.install(HEAD_CAP)
    iostream.OutStream.write = write  # type: ignore[method-assign]
    zmqshell.ZMQDisplayPublisher.publish = publish  # type: ignore[method-assign]
    zmqshell.ZMQShellDisplayHook.write_format_data = write_format_data  # type: ignore[method-assign]
