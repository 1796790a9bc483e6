"""What one executed cell produced, in the two forms callers need: text for the model and parts for the UI."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

# Caps keep one runaway cell from filling the model's context or the server's memory.
MAX_TEXT_CHARS = 20_000
# Room for the labels ("[stdout]") and the notes of what each part had cut already, beyond the cap on their text:
# without it, the whole cell's cap cut off a capped output's own note, and the model read that 58 characters were
# missing from a cell that printed a gigabyte.
FRAMING_CHARS = 1_000
MAX_IMAGES = 20
MAX_HTML_CHARS = 200_000
# One image per display bundle, best first: a figure often carries png and svg of the same picture.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
# What the kernel held back under its own caps (varro/kernels/sandbox/inside/output_caps.py), reported once per cell.
DROPPED_TYPE = "application/vnd.varro.dropped+json"
PLOTLY_TYPE = "application/vnd.plotly.v1+json"
MAX_CHART_CHARS = 2_000_000
# Whatever the kernel sends (code in a cell can bypass the kernel's own caps and write to its socket directly), one
# cell holds at most this many HTML and chart outputs, and this many characters of them together, on the server.
MAX_RICH_OUTPUTS = 50
MAX_RICH_CHARS = 10_000_000
MAX_IMAGE_BYTES = 8 * 2**20  # one image, decoded
# What one cell may stream to the page while it runs (stdout and stderr together); past it the page gets one note
# and the cell runs on. Its result keeps the usual capped text.
MAX_LIVE_CHARS = 100_000
LIVE_STOPPED = "\n… [live output stops here; the cell runs on, and its result follows]\n"
# A DataFrame's first rows for the page's grid (varro/kernels/sandbox/inside/tables.py caps them at about 500,000 characters).
TABLE_TYPE = "application/vnd.varro.table+json"
MAX_TABLE_CHARS = 1_000_000
# A cell that printed past the cap: the kernel wrote all of it here, in the chat's working directory
# (varro/kernels/sandbox/inside/full_output.py).
OUTPUT_FILE = re.compile(r"\.outputs/cell-[A-Za-z0-9_-]{1,80}\.txt")

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_DEFAULT_REPR = re.compile(r"<[\w.]+ object(?: at 0x[0-9a-fA-F]+)?>")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def rich_note(dropped: int) -> str:
    return (f"\n… [{dropped} more tables or charts not shown: a cell shows at most {MAX_RICH_OUTPUTS} of them, "
            f"{MAX_RICH_CHARS // 1_000_000} MB in all]")


def truncation_note(dropped: int, file: str | None = None) -> str:
    where = f"; all of the output is in the file {file}" if file else ""
    return f"\n… [output truncated: {dropped} more characters{where}]"


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + truncation_note(len(text) - limit), True


@dataclass
class Image:
    media_type: str
    data: bytes


@dataclass
class CellResult:
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None
    images: list[Image] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    timed_out: bool = False
    truncated: bool = False
    # Set when the kernel died or ignored an interrupt and had to be replaced: its variables are gone.
    kernel_restarted: bool = False
    timeout: float | None = None
    duration: float = 0.0
    # Files in the working directory that the cell created or changed (set by the session, which watches it).
    files: list[str] = field(default_factory=list)
    result_html: bool = False  # the value has an HTML form (a DataFrame) among `html`: the page shows that instead
    charts: list[str] = field(default_factory=list)  # Plotly figures, as their JSON
    tables: list[str] = field(default_factory=list)  # grids, as their JSON; "html" names the HTML output they replace
    output_file: str | None = None  # where the whole output is, when the streams were cut (OUTPUT_FILE)

    def to_text(self) -> str:
        parts: list[str] = []
        if self.stdout:
            parts.append(f"[stdout]\n{self.stdout.rstrip()}")
        if self.stderr:
            parts.append(f"[stderr]\n{self.stderr.rstrip()}")
        if self.result is not None:
            parts.append(f"[result]\n{self.result}")
        parts.extend(f"[{image.media_type} output shown to the user]" for image in self.images)
        parts.extend("[text/html output shown to the user as a table]" for _ in self.html)
        parts.extend("[interactive Plotly chart shown to the user]" for _ in self.charts)
        if self.files:
            parts.append(f"[files written, offered to the user as downloads: {', '.join(self.files)}]")
        if self.error:
            parts.append(f"[error]\n{self.error.rstrip()}")
        if self.timed_out and not self.kernel_restarted:
            parts.append(
                f"Execution timed out after {self.timeout:g} s and was interrupted; "
                "the kernel and its variables are kept."
            )
        elif self.timed_out:
            parts.append(
                f"Execution timed out after {self.timeout:g} s and did not stop when interrupted; "
                "the kernel was restarted and all variables were lost."
            )
        elif self.kernel_restarted:
            parts.append("The kernel was restarted; all variables and imports were lost.")
        # Every part is capped already; together they are held to one output's cap too (with room for the framing).
        return cap_text("\n\n".join(parts), MAX_TEXT_CHARS + FRAMING_CHARS)[0] if parts else "[no output]"

    def to_dict(self) -> dict[str, Any]:
        # Image bytes are stored by the caller elsewhere; the record keeps only what they were.
        return {
            "stdout": self.stdout,
            "stderr": self.stderr,
            "result": self.result,
            "error": self.error,
            "images": [{"media_type": image.media_type} for image in self.images],
            "html": list(self.html),
            "timed_out": self.timed_out,
            "truncated": self.truncated,
            "kernel_restarted": self.kernel_restarted,
            "timeout": self.timeout,
            "duration": self.duration,
            "files": list(self.files),
            "result_html": self.result_html,
            "charts": list(self.charts),
            "tables": list(self.tables),
            "output_file": self.output_file,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        return cls(
            stdout=data.get("stdout", ""),
            stderr=data.get("stderr", ""),
            result=data.get("result"),
            error=data.get("error"),
            images=[Image(media_type=item["media_type"], data=b"") for item in data.get("images", [])],
            html=list(data.get("html", [])),
            timed_out=bool(data.get("timed_out", False)),
            truncated=bool(data.get("truncated", False)),
            kernel_restarted=bool(data.get("kernel_restarted", False)),
            timeout=data.get("timeout"),
            duration=float(data.get("duration", 0.0)),
            files=list(data.get("files", [])),
            result_html=bool(data.get("result_html", False)),
            charts=list(data.get("charts", [])),
            tables=list(data.get("tables", [])),
            output_file=data.get("output_file"),
        )


class _CappedText:
    """Accumulates a stream but keeps at most `limit` characters, counting the rest, so memory stays bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0
        self.tail = ""  # the end of a stream that ran past its cap, which the kernel sends with its report

    def add(self, text: str) -> None:
        room = self.limit - self.size
        if room > 0:
            kept = text[:room]
            self.parts.append(kept)
            self.size += len(kept)
        self.dropped += max(0, len(text) - max(room, 0))

    def value(self, file: str | None = None) -> str:
        text = strip_ansi("".join(self.parts))
        tail = strip_ansi(self.tail)
        if not self.dropped:
            return text + tail
        return text + truncation_note(self.dropped, file) + (f" …\n{tail}" if tail else "")


class OutputCollector:
    """Folds a cell's iopub messages (stream, execute_result, display_data, error, clear_output) into a CellResult."""

    def __init__(self, max_chars: int = MAX_TEXT_CHARS, max_images: int = MAX_IMAGES) -> None:
        self.max_chars = max_chars
        self.max_images = max_images
        self._clear()
        self.result: str | None = None
        self.error: str | None = None
        self.truncated = False
        self.result_html = False
        self.output_file: str | None = None
        self._pending_clear = False
        self.live_chars = 0
        self.live_stopped = False

    def live(self, text: str) -> str:
        """What of a stream's `text` may go to the page as it arrives: all of it up to the cell's live cap, then
        one note, then nothing."""
        if self.live_stopped:
            return ""
        room = MAX_LIVE_CHARS - self.live_chars
        if len(text) <= room:
            self.live_chars += len(text)
            return text
        self.live_stopped = True
        return text[:room] + LIVE_STOPPED

    def _clear(self) -> None:
        self.streams = {"stdout": _CappedText(self.max_chars), "stderr": _CappedText(self.max_chars)}
        self.images: list[Image] = []
        self.html: list[str] = []
        self.charts: list[str] = []
        self.tables: list[str] = []
        self.dropped_images = 0
        self.dropped_rich = 0  # HTML and chart outputs past the cell's caps
        self.rich_chars = 0

    def feed(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type == "clear_output":
            # wait=True (progress bars) means: clear when the next output arrives.
            if content.get("wait"):
                self._pending_clear = True
            else:
                self._clear()
            return
        if msg_type not in ("stream", "execute_result", "display_data", "error"):
            return
        if self._pending_clear:
            self._pending_clear = False
            self._clear()
        if msg_type == "stream":
            self.streams["stderr" if content.get("name") == "stderr" else "stdout"].add(content.get("text", ""))
        elif msg_type == "error":
            self.add_error(content.get("ename", "Error"), content.get("evalue", ""), content.get("traceback", []))
        else:
            self._add_bundle(content.get("data", {}), is_result=msg_type == "execute_result")

    def add_error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        text = f"{ename}: {evalue}"
        if traceback:
            text += "\n" + strip_ansi("\n".join(traceback))
        self.error, cut = cap_text(text, self.max_chars)
        self.truncated |= cut

    def feed_reply(self, content: dict[str, Any]) -> None:
        # Pager output (`obj?`) arrives only as a payload of the execute_reply, not on iopub.
        for payload in content.get("payload", []):
            text = payload.get("data", {}).get("text/plain") if payload.get("source") == "page" else None
            if isinstance(text, str):
                self.streams["stdout"].add(text)

    def _add_bundle(self, data: dict[str, Any], *, is_result: bool) -> None:
        if isinstance(dropped := data.get(DROPPED_TYPE), dict):
            self._add_dropped(dropped)
            return
        image = _decode_image(data)
        if image is not None:
            if len(self.images) < self.max_images and len(image.data) <= MAX_IMAGE_BYTES:
                self.images.append(image)
            else:
                self.dropped_images += 1
        if isinstance(chart := data.get(PLOTLY_TYPE), dict):
            spec = json.dumps(chart, default=str)
            if len(spec) > MAX_CHART_CHARS:
                self.truncated = True
            elif self._room_for(len(spec)):
                self.charts.append(spec)
            return  # its HTML and text forms say the same thing less well
        html = data.get("text/html")
        kept = isinstance(html, str) and self._room_for(min(len(html), MAX_HTML_CHARS))
        self._add_table(data.get(TABLE_TYPE), len(self.html) if kept else -1)
        if isinstance(html, str) and kept:
            # Kept up to the cap (the page cuts it further, and says so); a cut table still shows its first rows.
            self.html.append(html[:MAX_HTML_CHARS])
            self.truncated |= len(html) > MAX_HTML_CHARS
            self.result_html |= is_result
        plain = data.get("text/plain")
        if not isinstance(plain, str):
            return
        if is_result:
            self.result, cut = cap_text(strip_ansi(plain), self.max_chars)
            self.truncated |= cut
        elif image is None and not _DEFAULT_REPR.fullmatch(plain):
            # display(x) of a non-image: the model sees only text, so its plain form joins stdout, unless it is
            # the uninformative default repr of an HTML/Markdown wrapper object.
            self.streams["stdout"].add(plain if plain.endswith("\n") else plain + "\n")

    def _room_for(self, chars: int) -> bool:
        """Whether one more HTML or chart output of `chars` characters fits the cell's caps (counted if not)."""
        if len(self.html) + len(self.charts) >= MAX_RICH_OUTPUTS or self.rich_chars + chars > MAX_RICH_CHARS:
            self.dropped_rich += 1
            return False
        self.rich_chars += chars
        return True

    def _add_table(self, table: Any, html_index: int) -> None:
        if isinstance(table, dict):
            spec = json.dumps({**table, "html": html_index}, default=str)
            if len(spec) <= MAX_TABLE_CHARS and self._room_for(len(spec)):
                self.tables.append(spec)

    def _add_dropped(self, dropped: dict[str, Any]) -> None:
        for name in ("stdout", "stderr"):
            if isinstance(count := dropped.get(name), int) and count > 0:
                self.streams[name].dropped += count
            if isinstance(tail := dropped.get(f"{name}_tail"), str):
                self.streams[name].tail = tail[-self.max_chars // 4:]
        if isinstance(file := dropped.get("file"), str) and OUTPUT_FILE.fullmatch(file):
            self.output_file = file
        if isinstance(images := dropped.get("images"), int):
            self.dropped_images += max(0, images)
        if dropped.get("html"):
            self.truncated = True

    def build(self, **flags: Any) -> CellResult:
        stdout, stderr = self.streams["stdout"], self.streams["stderr"]
        stdout_text = stdout.value(self.output_file)
        if self.dropped_images:
            stdout_text += f"\n… [{self.dropped_images} more images not shown]"
        if self.dropped_rich:
            stdout_text += rich_note(self.dropped_rich)
        truncated = self.truncated or bool(stdout.dropped or stderr.dropped or self.dropped_images or self.dropped_rich)
        return CellResult(
            stdout=stdout_text,
            stderr=stderr.value(self.output_file),
            result=self.result,
            error=self.error,
            images=list(self.images),
            html=list(self.html),
            result_html=self.result_html and bool(self.html),
            charts=list(self.charts),
            tables=list(self.tables),
            output_file=self.output_file,
            truncated=truncated,
            **flags,
        )


def _decode_image(data: dict[str, Any]) -> Image | None:
    for media_type in IMAGE_TYPES:
        payload = data.get(media_type)
        if not isinstance(payload, str):
            continue
        if media_type == "image/svg+xml":
            return Image(media_type=media_type, data=payload.encode("utf-8"))
        try:
            return Image(media_type=media_type, data=base64.b64decode(payload))
        except ValueError:
            continue
    return None
