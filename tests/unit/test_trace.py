"""The benchmarks' opt-in trace: every frame one line, each delta listed with the frame that carries its last character."""

from __future__ import annotations

import json
from pathlib import Path

from varro.chat.events import NodeStarted, PartDelta, PartStarted, TurnFinished
from varro.chat.trace import StreamTrace, TraceLog


def test_deltas_are_matched_to_the_frames_that_carry_them(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl")
    trace = StreamTrace(log, chat_id=7)
    start, d1, d2, d3 = PartStarted(0, 0, 1, "text", "ab"), PartDelta(0, 0, 1, "cd"), PartDelta(0, 0, 1, "e"), \
        PartDelta(0, 0, 1, "fg")
    for e in (start, d1, d2, d3):
        trace.received(e)
    trace.sent("<x/>", [NodeStarted(0, 0)])
    trace.sent("<start/>", [start])
    trace.sent("<two/>", [PartDelta(0, 0, 1, "cde")])  # the coalescer joined d1 and d2
    trace.sent("<ready>é</ready>")  # a ready frame (a notice): counted, carries no delta
    trace.sent("<last/>", [d3, TurnFinished(0, "complete")])  # TurnFinished flushes the file
    lines = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [r["m"] for r in lines] == [0, 1, 2, 3, 4] and {r["c"] for r in lines} == {7}
    assert [len(r["d"]) for r in lines] == [0, 1, 2, 0, 1]
    assert lines[0]["k"] == ["NodeStarted"] and lines[4]["k"] == ["TurnFinished"]
    assert lines[3]["b"] == len("<ready>é</ready>".encode())
    assert all(r["t"] >= d for r in lines for d in r["d"]), "a delta is received before the frame carrying it leaves"
