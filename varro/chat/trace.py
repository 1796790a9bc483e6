"""Opt-in stream timing for the benchmarks (`VARRO_TRACE_FILE`); with it unset nothing here runs.

For every frame a connection sends, one JSON line: the chat (`c`), the frame's number on this socket
(`m`, counting every frame, so a browser can match it by counting messages), when it was handed to
the socket (`t`, epoch seconds), its size in UTF-8 bytes (`b`) and characters (`n`), the time spent
rendering it (`r`, ms), the kinds of the non-delta events in it (`k`), and for each model delta whose
last character it carries, when that delta reached the connection from the session (`d`, epoch s). A delta
"reaches the connection" the moment the session emits it, before any coalescing: that is the
model's hand-over as the server sees it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from varro.chat.events import Event, PartDelta, PartStarted, TurnFinished

Addr = tuple[int, int, int]


class TraceLog:
    """The process's trace file, shared by its connections (one event loop, so lines never interleave)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8", buffering=1 << 16)

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class StreamTrace:
    """One connection: matches deltas to the frames that carry them by how many characters of each part were sent."""

    def __init__(self, log: TraceLog, chat_id: int) -> None:
        self.log = log
        self.chat_id = chat_id
        self.seq = 0
        self._received: dict[Addr, int] = {}
        self._sent: dict[Addr, int] = {}
        self._waiting: dict[Addr, deque[tuple[int, float]]] = {}

    def received(self, event: Event) -> None:
        """A session event reached the connection (before the coalescer)."""
        if isinstance(event, PartStarted):
            addr, size = (event.turn, event.node, event.part), len(event.content)
            self._received[addr], self._sent[addr], self._waiting[addr] = 0, 0, deque()
        elif isinstance(event, PartDelta):
            addr, size = (event.turn, event.node, event.part), len(event.text)
        else:
            return
        if size:
            end = self._received.get(addr, 0) + size
            self._received[addr] = end
            self._waiting.setdefault(addr, deque()).append((end, time.time()))

    def sent(self, frame: str, events: Sequence[Event] = (), render_s: float = 0.0) -> None:
        """A frame is being handed to the socket; `events` are what it was rendered from (none for a ready frame)."""
        now = time.time()
        deltas: list[float] = []
        for e in events:
            if isinstance(e, PartStarted | PartDelta):
                addr = (e.turn, e.node, e.part)
                end = self._sent.get(addr, 0) + len(e.content if isinstance(e, PartStarted) else e.text)
                self._sent[addr] = end
                waiting = self._waiting.get(addr)
                while waiting and waiting[0][0] <= end:
                    deltas.append(waiting.popleft()[1])
        kinds = [type(e).__name__ for e in events if not isinstance(e, PartDelta)]
        self.log.write({"c": self.chat_id, "m": self.seq, "t": now, "b": len(frame.encode()), "n": len(frame),
                        "r": round(render_s * 1000, 3), "k": kinds, "d": deltas})
        self.seq += 1
        if any(isinstance(e, TurnFinished) for e in events):
            self.log.flush()
