"""The set of runs `python -m bench` makes, and what each run is reduced to (one dict of figures)."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from bench import capacity, servers
from bench.analyze import analyze, percentile
from bench.browser import ask, open_chat
from bench.load import Load
from bench.wire import ByteCountingProxy
from tests.e2e.server import ROOT
from varro.agent.demo import stream_chunks

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    runs: int = 3
    speeds: tuple[int, ...] = (200, 1000, 3000)
    latency_tokens: int = 5000
    long_tokens: int = 20_000
    long_tps: int = 1000
    flushes: tuple[int, ...] = (0, 8, 16, 33)
    flush_tokens: int = 5000
    flush_speeds: tuple[int, ...] = (1000, 3000)
    flush_runs: int = 2
    sessions: int = 50
    session_tokens: int = 1000
    session_tps: int = 100
    capacity_runs: int = 2
    wire_sizes: tuple[int, ...] = (2500, 5000, 10_000)
    wire_tps: int = 1000


FULL = Plan()
QUICK = Plan(runs=1, latency_tokens=1500, long_tokens=6000, flush_tokens=1500, flush_runs=1, session_tokens=300,
             capacity_runs=1, wire_sizes=(1000, 2000, 4000))
# Every scenario once, for a few seconds: `make test` runs it so the benchmark cannot break unnoticed.
SMOKE = Plan(runs=1, speeds=(1000,), latency_tokens=300, long_tokens=600, long_tps=1000, flushes=(0, 8), flush_tokens=300,
             flush_speeds=(1000,), flush_runs=1, sessions=4, session_tokens=50, capacity_runs=1, wire_sizes=(300,))


def text_bytes(tokens: int) -> int:
    """The answer's markdown for `/stream N` (what the demo model streams), in UTF-8 bytes."""
    return len("".join(stream_chunks(tokens, tokens)).encode())


def summarize(run: Any, tokens: int) -> dict[str, Any]:
    a = analyze(run)
    return {
        "tokens": tokens, "deltas": a.tokens,
        "p50_ms": percentile(a.lat_model, 50), "p99_ms": percentile(a.lat_model, 99),
        "send_p50_ms": percentile(a.lat_send, 50), "send_p99_ms": percentile(a.lat_send, 99),
        "first_token_ms": a.first_token_ms, "first_text_ms": a.first_text_ms, "enter_to_bubble_ms": a.enter_to_bubble_ms,
        "fps": a.fps, "max_frame_ms": a.max_frame_ms, "long_tasks": a.long_tasks, "longest_task_ms": a.longest_task_ms,
        "final_swap_ms": a.final_swap_ms, "final_swap_wait_ms": a.final_swap_wait_ms,
        "final_render_ms": a.final_render_ms, "fifths_us": a.fifths_us, "linearity": a.linearity,
        "payload_bytes": a.payload_bytes, "text_bytes": text_bytes(tokens), "frames_sent": a.frames_sent,
        "duration_s": a.duration_s, "clock_error_ms": a.clock_error_ms,
    }


def browser_run(browser: Browser, server: servers.Server, tokens: int, tps: int, base_url: str | None = None) -> dict:
    page, chat = open_chat(browser, server, base_url)
    try:
        load = Load.now()
        out = summarize(ask(page, chat, server, f"/stream {tokens} at {tps}"), tokens)
        out["chat"], out["others_cpu_pct"] = chat, load.others_percent()
        return out
    finally:
        page.close()


KINDS: tuple[servers.Kind, ...] = ("app", "baseline")


def _order(i: int) -> tuple[servers.Kind, ...]:
    """App and baseline take turns going first, so neither always runs right after the other."""
    return KINDS if i % 2 == 0 else KINDS[::-1]


def stream_runs(browser: Browser, plan: Plan, root: Path, log: Log) -> dict[str, dict[str, Any]]:
    """Figures 1-4 and 6, the app's and the baseline's runs interleaved so that both meet the same machine."""
    out: dict[str, dict[str, Any]] = {k: {"latency": {}, "long": [], "wire": {}} for k in KINDS}
    with servers.run("app", root / "app") as app, servers.run("baseline", root / "baseline") as base:
        srv = {"app": app, "baseline": base}
        for kind in KINDS:
            browser_run(browser, srv[kind], 300, 3000)  # warm-up: first page load, first socket, imports
        for i in range(plan.runs):
            for tps in plan.speeds:
                for kind in _order(i):
                    r = browser_run(browser, srv[kind], plan.latency_tokens, tps)
                    out[kind]["latency"].setdefault(str(tps), []).append(r)
                    log(f"  {kind} run {i + 1}: {plan.latency_tokens} tokens at {tps}/s  p50 {r['p50_ms']:.1f} ms"
                        f"  p99 {r['p99_ms']:.1f} ms  fps {r['fps']:.1f}  (others {r['others_cpu_pct']:.0f}%)")
            for kind in _order(i):
                r = browser_run(browser, srv[kind], plan.long_tokens, plan.long_tps)
                out[kind]["long"].append(r)
                log(f"  {kind} run {i + 1}: {plan.long_tokens} tokens at {plan.long_tps}/s  fps {r['fps']:.1f}"
                    f"  max frame {r['max_frame_ms']:.1f} ms  long tasks {r['long_tasks']}  final swap"
                    f" {r['final_swap_ms']:.1f} ms  last/first fifth {r['linearity']:.2f}"
                    f"  (others {r['others_cpu_pct']:.0f}%)")
        for kind in KINDS:
            out[kind]["wire"] = wire_runs(browser, plan, srv[kind], log)
    return out


def wire_runs(browser: Browser, plan: Plan, server: servers.Server, log: Log) -> dict[str, dict]:
    out = {}
    proxy = ByteCountingProxy(int(server.url.rsplit(":", 1)[1]))
    try:
        for tokens in plan.wire_sizes:
            r = browser_run(browser, server, tokens, plan.wire_tps, proxy.url)
            r["wire_bytes"] = proxy.ws_bytes.get(r["chat"], 0)
            out[str(tokens)] = r
            log(f"  {server.kind}: {tokens} tokens  payload {r['payload_bytes'] / r['text_bytes']:.2f}x text,"
                f" wire {r['wire_bytes'] / r['text_bytes']:.2f}x text")
    finally:
        proxy.close()
    return out


def flush_runs(browser: Browser, plan: Plan, root: Path, log: Log) -> dict[str, dict[str, list[dict]]]:
    """The app at each VARRO_STREAM_FLUSH_MS on the same answer and speeds: latency, frames a second and bytes.

    All four servers run at once and take turns, so a burst of load from elsewhere spreads over the settings.
    """
    out: dict[str, dict[str, list[dict]]] = {str(f): {str(t): [] for t in plan.flush_speeds} for f in plan.flushes}
    with ExitStack() as stack:
        srv = {f: stack.enter_context(servers.run("app", root / f"flush-{f}", VARRO_STREAM_FLUSH_MS=str(f)))
               for f in plan.flushes}
        for server in srv.values():
            browser_run(browser, server, 300, 3000)
        for i in range(plan.flush_runs):
            for tps in plan.flush_speeds:
                turn = (i + plan.flush_speeds.index(tps)) % len(plan.flushes)
                for flush in plan.flushes[turn:] + plan.flushes[:turn]:
                    r = browser_run(browser, srv[flush], plan.flush_tokens, tps)
                    out[str(flush)][str(tps)].append(r)
                    log(f"  flush {flush} ms, {tps}/s: p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms"
                        f"  fps {r['fps']:.1f}  {r['payload_bytes'] / r['text_bytes']:.2f}x text"
                        f"  {r['frames_sent']} frames  (others {r['others_cpu_pct']:.0f}%)")
    return out


def capacity_runs(plan: Plan, root: Path, log: Log) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    for i in range(plan.capacity_runs):
        for kind in _order(i):
            r = capacity_run(plan, kind, root / f"capacity-{kind}-{i}")
            out[kind].append(r)
            log(f"  {kind} capacity run {i + 1}: {r['completed']}/{r['sessions']} sessions, delivery p50"
                f" {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  {r['kib_per_session']:.0f} KiB a session"
                f"  server CPU {r['cpu_percent']:.0f}%  (others {r['others_cpu_pct']:.0f}%)")
    return out


def capacity_run(plan: Plan, kind: servers.Kind, data: Path, root: Path = ROOT) -> dict[str, Any]:
    pairs = capacity.prepare(data, plan.sessions) if kind == "app" else \
        [(0, 10_000 + j) for j in range(plan.sessions + 1)]
    with servers.run(kind, data, root) as server:
        load = Load.now()
        c = capacity.measure(server, pairs, plan.session_tokens, plan.session_tps)
        others = load.others_percent()
    steady = [x for x, t in zip(c.delivery_ms, c.late_s, strict=True) if 2 <= t <= c.wall_s - 2]
    return {**{k: v for k, v in asdict(c).items() if k not in ("delivery_ms", "wire_ms", "late_s")},
            "p50_ms": percentile(c.delivery_ms, 50), "p99_ms": percentile(c.delivery_ms, 99),
            "max_ms": max(c.delivery_ms, default=float("nan")), "steady_p99_ms": percentile(steady, 99),
            "wire_p99_ms": percentile(c.wire_ms, 99), "deltas": len(c.delivery_ms),
            "kib_per_session": c.kib_per_session, "others_cpu_pct": others}


def median(values: list[float]) -> float:
    values = [v for v in values if v is not None and v == v]
    return statistics.median(values) if values else float("nan")


def temp_root() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="varro-bench-")
