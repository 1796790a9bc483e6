"""`python -m bench.compare DIR`: this checkout's app against the app of another checkout, in the same run.

For a change to the stream (docs/benchmarks.md, "Before and after a change"): the two servers run side
by side, their runs alternate (each goes first every other time), and the table gives the medians of
each streaming figure for both, so load from elsewhere meets both alike. DIR is a copy of the tree at
the earlier commit (`git archive REV | tar -x -C DIR`) with this checkout's .venv and static/vendor.

    python -m bench.compare /tmp/before --runs 5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import scenarios, servers
from bench.browser import chromium
from tests.e2e.server import ROOT

NAMES = ("before", "after")
LATENCY = (("p50_ms", "token-to-paint p50 ms"), ("p99_ms", "token-to-paint p99 ms"), ("fps", "frames a second"))
LONG = (("fps", "frames a second"), ("max_frame_ms", "longest frame ms"), ("long_tasks", "long tasks"),
        ("final_swap_ms", "final block swap ms"), ("linearity", "client time per token, last / first fifth"),
        ("first_token_ms", "first delta to paint ms"), ("first_text_ms", "first text delta to paint ms"),
        ("enter_to_bubble_ms", "Enter to bubble ms"))
CAPACITY = (("p99_ms", "delivery p99 ms"), ("cpu_percent", "server CPU %"), ("kib_per_session", "KiB a session"))


def runs(before: Path, plan: scenarios.Plan, tmp: Path, rounds: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in NAMES}
    roots = {"before": before, "after": ROOT}
    with chromium() as browser, servers.run("app", tmp / "before", before) as old, \
            servers.run("app", tmp / "after") as new:
        srv = {"before": old, "after": new}
        for name in NAMES:
            scenarios.browser_run(browser, srv[name], 300, 3000)  # warm-up
        for i in range(rounds):
            order = NAMES if i % 2 == 0 else NAMES[::-1]
            for tps in plan.speeds:
                for name in order:
                    r = scenarios.browser_run(browser, srv[name], plan.latency_tokens, tps)
                    out[name].setdefault(f"latency {tps}/s", []).append(r)
                    print(f"  {name} {tps}/s: p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f}"
                          f" (others {r['others_cpu_pct']:.0f}%)", flush=True)
            for name in order:
                r = scenarios.browser_run(browser, srv[name], plan.long_tokens, plan.long_tps)
                out[name].setdefault("long", []).append(r)
                print(f"  {name} long: fps {r['fps']:.1f} max frame {r['max_frame_ms']:.1f}"
                      f" (others {r['others_cpu_pct']:.0f}%)", flush=True)
        for name in NAMES:
            out[name]["wire"] = list(scenarios.wire_runs(browser, plan, srv[name], print).values())
    for i in range(plan.capacity_runs):
        for name in NAMES if i % 2 == 0 else NAMES[::-1]:
            r = scenarios.capacity_run(plan, "app", tmp / f"capacity-{name}-{i}", roots[name])
            out[name].setdefault("capacity", []).append(r)
            print(f"  {name} capacity: p99 {r['p99_ms']:.1f} ms CPU {r['cpu_percent']:.0f}%", flush=True)
    return out


def table(res: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    rows = ["| scenario | measure | before | after | after / before |", "|---|---|---|---|---|"]

    def row(group: str, key: str, label: str, value: Any = None) -> None:
        b, a = (value(res[n][group]) if value else scenarios.median([r[key] for r in res[n][group]]) for n in NAMES)
        rows.append(f"| {group} | {label} | {b:.3g} | {a:.3g} | {a / b if b else float('nan'):.2f}x |")

    for group in [g for g in res["after"] if g.startswith("latency")]:
        for key, label in LATENCY:
            row(group, key, label)
    for key, label in LONG:
        row("long", key, label)
    row("wire", "", "wire bytes / text, largest answer", lambda rs: rs[-1]["wire_bytes"] / rs[-1]["text_bytes"])
    row("wire", "", "payload bytes / text, largest answer", lambda rs: rs[-1]["payload_bytes"] / rs[-1]["text_bytes"])
    for key, label in CAPACITY:
        row("capacity", key, label)
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path, help="the other checkout (the earlier commit)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of every streaming scenario")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compare.json")
    args = parser.parse_args()
    plan = scenarios.QUICK
    with scenarios.temp_root() as tmp:
        res = runs(args.before.resolve(), plan, Path(tmp), args.runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=str))
    print(table(res))


if __name__ == "__main__":
    main()
