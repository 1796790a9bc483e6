"""`python -m bench` (`make bench`): the whole set against the real server and the baseline, then the table.

    python -m bench            # the full set (about 10 minutes on 2 cores)
    python -m bench --quick    # one run of each, shorter answers (about 2 minutes)
    python -m bench --smoke    # every scenario for a few seconds, figures not worth reading (`make test` runs it)
    python -m bench --docs     # also write the results into docs/benchmarks.md and redraw the plot

Raw results go to bench/results/latest.json (and --quick ones to quick.json, --smoke ones to smoke.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.browser import chromium

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-latency.png"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def log(msg: str) -> None:
    print(msg, flush=True)


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    chromium_version = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": len([ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                                      if ln.startswith("processor")]),
            "python": platform.python_version(), "os": platform.platform(), "chromium": chromium_version,
            "load_before": Path("/proc/loadavg").read_text().split()[:3]}


def run(plan: scenarios.Plan) -> dict[str, Any]:
    res: dict[str, Any] = {"plan": asdict(plan), "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M")}
    t0 = time.monotonic()
    with scenarios.temp_root() as tmp, chromium() as browser:
        root = Path(tmp)
        log("streams in Chromium, app and baseline runs interleaved")
        res.update(scenarios.stream_runs(browser, plan, root, log))
        log("app: flush settings")
        res["flush"] = scenarios.flush_runs(browser, plan, root, log)
    with scenarios.temp_root() as tmp:
        log(f"{plan.sessions} sessions at once, app and baseline interleaved")
        res["capacity"] = scenarios.capacity_runs(plan, Path(tmp), log)
    res["minutes"] = round((time.monotonic() - t0) / 60, 1)
    return res


def write_docs(res: dict[str, Any]) -> None:
    m = res["machine"]
    body = "\n".join([
        START,
        f"Run {res['started']}, {res['minutes']} min: {m['cores']} cores ({m['cpu']}), {m['chromium']}, "
        f"Python {m['python']}; load average before the run {' '.join(m['load_before'])}.",
        "",
        report.table(res, markdown=True),
        "",
        report.flush_table(res, markdown=True),
        END,
    ])
    text = DOCS.read_text()
    DOCS.write_text(text[: text.index(START)] + body + text[text.index(END) + len(END):])
    report.plot(res, PLOT)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of each, shorter answers")
    parser.add_argument("--smoke", action="store_true", help="every scenario for a few seconds (a test, no figures)")
    parser.add_argument("--docs", action="store_true", help="write the results into docs/benchmarks.md and the plot")
    parser.add_argument("--report", type=Path, help="print the table of a saved results file, run nothing")
    args = parser.parse_args()
    if args.report:
        res = json.loads(args.report.read_text())
    else:
        kind = "smoke" if args.smoke else "quick" if args.quick else "latest"
        res = run({"smoke": scenarios.SMOKE, "quick": scenarios.QUICK, "latest": scenarios.FULL}[kind])
        out = ROOT / "bench" / "results" / f"{kind}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(res, indent=1))
        log(f"raw results: {out.relative_to(ROOT)}")
    print()
    print(report.table(res))
    print()
    print(report.flush_table(res))
    if args.docs:
        write_docs(res)
        log(f"wrote {DOCS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
