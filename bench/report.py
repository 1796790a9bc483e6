"""The six figures from a bench's results, next to the baseline: a table for the terminal and for the docs, and a plot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scenarios import median

Check = Callable[[float], bool]


@dataclass
class Row:
    figure: str
    what: str
    target: str
    app: float
    baseline: float
    unit: str
    ok: Check | None  # None: shown for context, no target
    quiet: tuple[float, float] = (float("nan"), float("nan"))  # Varro's figure in its quietest run, others' CPU %

    @property
    def met(self) -> str:
        if self.ok is None or self.app != self.app:
            return ""
        return "met" if self.ok(self.app) else "MISSED"

    @property
    def ratio(self) -> str:
        if not self.baseline or self.baseline != self.baseline or self.app != self.app:
            return ""
        return f"{self.app / self.baseline:.2f}x"


def _fmt(v: float, unit: str) -> str:
    if v != v:
        return "n/a"
    if unit == "x":
        return f"{v:.2f}"
    return f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def _m(runs: list[dict], key: str) -> float:
    return median([r[key] for r in runs])


def _q(runs: list[dict], key: str) -> tuple[float, float]:
    """The figure from the run in which the rest of the machine used the least CPU (chosen by load, not by result)."""
    run = min(runs, key=lambda r: r.get("others_cpu_pct", float("inf")))
    return run[key], run.get("others_cpu_pct", float("nan"))


def _wire(sys: dict, size: str, key: str) -> float:
    r = sys["wire"].get(size)
    return r[key] / r["text_bytes"] if r else float("nan")


def slopes(sys: dict, key: str) -> list[float]:
    """Bytes added per text byte added, between answers of consecutive lengths (a fixed cost per turn cancels out)."""
    runs = [sys["wire"][size] for size in sorted(sys["wire"], key=int)]
    return [(b[key] - a[key]) / (b["text_bytes"] - a["text_bytes"]) for a, b in zip(runs, runs[1:], strict=False)]


def _linearity(sys: dict, key: str) -> float:
    """The marginal cost per text byte at the longest answers over that at the shortest (1.0: exactly linear)."""
    s = slopes(sys, key)
    return s[-1] / s[0] if len(s) > 1 and s[0] else float("nan")


def rows(res: dict[str, Any]) -> list[Row]:
    app, base, plan = res["app"], res["baseline"], res["plan"]
    out = []
    for tps in plan["speeds"]:
        a, b = app["latency"][str(tps)], base["latency"][str(tps)]
        n = plan["latency_tokens"]
        out.append(Row("1", f"token-to-paint p50, {n} tokens at {tps}/s", "<= 20 ms", _m(a, "p50_ms"),
                       _m(b, "p50_ms"), "ms", lambda v: v <= 20, _q(a, "p50_ms")))
        out.append(Row("1", f"token-to-paint p99, {n} tokens at {tps}/s", "<= 50 ms", _m(a, "p99_ms"),
                       _m(b, "p99_ms"), "ms", lambda v: v <= 50, _q(a, "p99_ms")))
        out.append(Row("1", f"  (context) socket-to-paint p50 at {tps}/s", "", _m(a, "send_p50_ms"),
                       _m(b, "send_p50_ms"), "ms", None))
        out.append(Row("1", f"  (context) socket-to-paint p99 at {tps}/s", "", _m(a, "send_p99_ms"),
                       _m(b, "send_p99_ms"), "ms", None))
    a, b, n = app["long"], base["long"], plan["long_tokens"]
    out += [
        Row("2", f"frames a second, {n} tokens at {plan['long_tps']}/s", ">= 58", _m(a, "fps"), _m(b, "fps"), "fps",
            lambda v: v >= 58, _q(a, "fps")),
        Row("2", "longest frame", "<= 50 ms", _m(a, "max_frame_ms"), _m(b, "max_frame_ms"), "ms", lambda v: v <= 50,
            _q(a, "max_frame_ms")),
        Row("2", "long tasks (> 50 ms)", "0", _m(a, "long_tasks"), _m(b, "long_tasks"), "", lambda v: v == 0,
            _q(a, "long_tasks")),
        Row("2", "final block swap (handler + its frame)", "< 50 ms", _m(a, "final_swap_ms"), _m(b, "final_swap_ms"),
            "ms", lambda v: v < 50, _q(a, "final_swap_ms")),
        Row("3", "client time per token, last fifth / first", "<= 1.5", _m(a, "linearity"), _m(b, "linearity"), "x",
            lambda v: v <= 1.5, _q(a, "linearity")),
    ]
    every = [r for runs in app["latency"].values() for r in runs] + app["long"]
    every_b = [r for runs in base["latency"].values() for r in runs] + base["long"]
    out += [
        Row("4", "model's first delta to paint, p50 of runs", "<= 15 ms", _m(every, "first_token_ms"),
            _m(every_b, "first_token_ms"), "ms", lambda v: v <= 15, _q(every, "first_token_ms")),
        Row("4", "  (context) first delta of the answer's text to paint, p50", "", _m(every, "first_text_ms"),
            _m(every_b, "first_text_ms"), "ms", None),
        Row("4", "Enter to the user's bubble, worst run", "<= 100 ms",
            max(r["enter_to_bubble_ms"] for r in every), max(r["enter_to_bubble_ms"] for r in every_b), "ms",
            lambda v: v <= 100, _q(every, "enter_to_bubble_ms")),
    ]
    ca, cb = res["capacity"]["app"], res["capacity"]["baseline"]
    s = plan["sessions"]
    out += [
        Row("5", f"sessions completed of {s} at {plan['session_tps']} tokens/s each", f">= {s}", _m(ca, "completed"),
            _m(cb, "completed"), "", lambda v: v >= s),
        Row("5", "delta delivery p99 (model to client)", "<= 50 ms", _m(ca, "p99_ms"), _m(cb, "p99_ms"), "ms",
            lambda v: v <= 50, _q(ca, "p99_ms")),
        Row("5", "server memory per active session", "<= 1024 KiB", _m(ca, "kib_per_session"),
            _m(cb, "kib_per_session"), "KiB", lambda v: v <= 1024),
    ]
    big = str(max(plan["wire_sizes"]))
    out += [
        Row("6", f"wire bytes / answer text, {big} tokens", "<= 3", _wire(app, big, "wire_bytes"),
            _wire(base, big, "wire_bytes"), "x", lambda v: v <= 3),
        Row("6", "  (uncompressed HTML payload / text, context)", "", _wire(app, big, "payload_bytes"),
            _wire(base, big, "payload_bytes"), "x", None),
        Row("6", "added wire bytes per added text byte, longest pair / shortest pair", "<= 1.2 (linear)",
            _linearity(app, "wire_bytes"), _linearity(base, "wire_bytes"), "x", lambda v: v <= 1.2),
    ]
    return out


def table(res: dict[str, Any], markdown: bool = False) -> str:
    head = ["fig", "measure", "target", "Varro", "baseline", "Varro / baseline", "", "Varro, quietest run"]
    body = [[r.figure, r.what, r.target, _fmt(r.app, r.unit), _fmt(r.baseline, r.unit), r.ratio, r.met,
             "" if r.quiet[0] != r.quiet[0] else f"{_fmt(r.quiet[0], r.unit)} (others {r.quiet[1]:.0f}%)"]
            for r in rows(res)]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(c.strip() for c in b) + " |" for b in body])
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in [head, *body])


def flush_table(res: dict[str, Any], markdown: bool = False) -> str:
    plan = res["plan"]
    head = ["VARRO_STREAM_FLUSH_MS", "tokens/s", "p50 ms", "p99 ms", "fps", "longest frame ms", "frames sent",
            "payload / text", "others' CPU %"]
    body = []
    for flush, by_speed in res["flush"].items():
        for tps, runs in by_speed.items():
            body.append([flush, tps, _fmt(_m(runs, "p50_ms"), "ms"), _fmt(_m(runs, "p99_ms"), "ms"),
                         _fmt(_m(runs, "fps"), ""), _fmt(_m(runs, "max_frame_ms"), "ms"), f"{_m(runs, 'frames_sent'):.0f}",
                         f"{median([r['payload_bytes'] / r['text_bytes'] for r in runs]):.2f}",
                         f"{_m(runs, 'others_cpu_pct'):.0f}"])
    title = f"{plan['flush_tokens']} tokens, median of {plan['flush_runs']} runs"
    if markdown:
        lines = [f"*{title}*", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    return title + "\n" + "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
                                    for line in [head, *body])


def plot(res: dict[str, Any], path: Path) -> None:
    """Token-to-paint latency (p50 and p99) against stream speed, Varro and the baseline, log scales."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    speeds = res["plan"]["speeds"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, label, color in (("app", "Varro", "tab:blue"), ("baseline", "baseline (Span per token)", "tab:red")):
        lat = res[name]["latency"]
        for key, style in (("p50_ms", "-o"), ("p99_ms", "--s")):
            ax.plot(speeds, [_m(lat[str(s)], key) for s in speeds], style, color=color,
                    label=f"{label} {key.split('_')[0]}")
    for target, label in ((20, "p50 target"), (50, "p99 target")):
        ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.text(speeds[0], target * 1.04, label, color="grey", fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(speeds, [str(s) for s in speeds])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("stream speed, tokens a second")
    ax.set_ylabel("model delta to paint, ms")
    ax.set_title(f"Token-to-paint latency, {res['plan']['latency_tokens']} tokens (median of {res['plan']['runs']} runs)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
