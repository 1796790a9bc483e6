"""Figures from one answer: the server's trace records joined with the page's timings (all epoch ms, server clock)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.browser import PageRun


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Answer:
    tokens: int
    lat_model: list[float]  # per delta: model hand-over -> painted, ms
    lat_send: list[float]  # per delta: frame handed to the socket -> painted, ms
    first_token_ms: float  # the response's first delta -> painted
    first_text_ms: float  # the first delta of the answer's text (after the demo model's thinking) -> painted
    enter_to_bubble_ms: float | None
    fps: float
    max_frame_ms: float
    long_tasks: int
    longest_task_ms: float
    final_swap_ms: float  # the frame with the finished response: swap handler + that frame's style/layout/paint
    final_swap_wait_ms: float  # arrival of that frame -> painted (includes waiting for the next frame)
    final_render_ms: float  # server time to render that frame
    fifths_us: list[float]  # client time per delta in each fifth of the answer, µs
    payload_bytes: int
    frames_sent: int
    duration_s: float
    clock_error_ms: float

    @property
    def linearity(self) -> float:
        return self.fifths_us[-1] / self.fifths_us[0] if self.fifths_us and self.fifths_us[0] else float("nan")


def check_alignment(run: PageRun) -> None:
    """The page counted the same frames the server sent, of the same lengths; otherwise nothing joins up."""
    lengths = [m[5] for m in run.msgs]
    sent = [r["n"] for r in run.records]
    if lengths[: len(sent)] != sent:
        first = next(i for i, (a, b) in enumerate(zip(lengths, sent, strict=False)) if a != b)
        raise AssertionError(f"page and trace disagree from frame {first}: {len(lengths)} vs {len(sent)} frames")


def analyze(run: PageRun) -> Answer:
    check_alignment(run)
    recs, msgs = run.records, run.msgs
    lat_model: list[float] = []
    lat_send: list[float] = []
    owner: list[int] = []  # for each delta, in order, the frame that carried it
    for i, rec in enumerate(recs):
        painted = msgs[i][4]
        assert painted is not None, f"frame {i} was never painted"
        for t in rec["d"]:
            lat_model.append(painted - t * 1000)
            lat_send.append(painted - rec["t"] * 1000)
            owner.append(i)
    first_delta = next(i for i, r in enumerate(recs) if r["d"])
    final = max(i for i, r in enumerate(recs) if "ResponseFinished" in r["k"])
    bubble = next((i for i, r in enumerate(recs) if "TurnStarted" in r["k"]), None)
    # The app's text part is the second part started (its first chunk rides in that frame); the baseline
    # shows only text, so its first delta is the text's.
    starts = [i for i, r in enumerate(recs) if r["k"].count("PartStarted")]
    text = starts[1] if len(starts) > 1 else first_delta
    # The stream's window on the page: from the first delta's paint to the finished response's paint.
    start, end = msgs[first_delta][4], msgs[final][4]
    frames = [f for f in run.frames if start <= f <= end]
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    tasks = [d for s, d in run.long_tasks if start - 50 <= s <= end]
    fm = msgs[final]
    return Answer(
        tokens=len(lat_model),
        lat_model=lat_model,
        lat_send=lat_send,
        first_token_ms=msgs[first_delta][4] - recs[first_delta]["d"][0] * 1000,
        first_text_ms=msgs[text][4] - recs[text]["d"][-1] * 1000,
        enter_to_bubble_ms=msgs[bubble][4] - run.key_at if bubble is not None and run.key_at else None,
        fps=(len(frames) - 1) / (frames[-1] - frames[0]) * 1000 if len(frames) > 1 else float("nan"),
        max_frame_ms=max(gaps, default=float("nan")),
        long_tasks=len(tasks),
        longest_task_ms=max(tasks, default=0.0),
        final_swap_ms=(fm[1] - fm[0]) + (fm[4] - fm[3]),
        final_swap_wait_ms=fm[4] - fm[0],
        final_render_ms=recs[final]["r"],
        fifths_us=client_time_per_delta(msgs, owner),
        payload_bytes=sum(r["b"] for r in recs),
        frames_sent=len(recs),
        duration_s=(end - start) / 1000,
        clock_error_ms=run.clock_error_ms,
    )


def client_time_per_delta(msgs: list[list[float | None]], owner: list[int], parts: int = 5) -> list[float]:
    """Main-thread time per delta in each fifth of the answer (by delta count), µs.

    A frame's swap handler counts in the fifth of the last delta it carries (frames without deltas, in
    the fifth before them); an animation frame's style/layout/paint counts once, in the fifth of the
    last message it painted. The finished response's swap is after the last delta and measured apart.
    """
    n = len(owner)
    if n < parts:
        return []
    fifth_of = {i: j * parts // n for j, i in enumerate(owner)}  # owner ascends: the last delta wins
    counts = [0] * parts
    for j in range(n):
        counts[j * parts // n] += 1
    spent = [0.0] * parts
    frames: dict[float, tuple[int, float]] = {}
    cur = 0
    for i in range(owner[0], owner[-1] + 1):
        cur = fifth_of.get(i, cur)
        arrived, applied, _, frame_start, painted, _ = msgs[i]
        spent[cur] += applied - arrived  # type: ignore[operator]
        frames[frame_start] = (cur, painted - frame_start)  # type: ignore[index,operator]
    for part, cost in frames.values():
        spent[part] += cost
    return [spent[j] * 1000 / counts[j] for j in range(parts)]
