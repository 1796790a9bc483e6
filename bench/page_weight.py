"""Page weight and Lighthouse scores of a heavy chat, for this tree and a baseline revision, in the same run.

    python -m bench.page_weight                     # baseline: the revision before the light page (BASELINE)
    python -m bench.page_weight --baseline main     # any git revision
    python -m bench.page_weight --runs 5 --no-lighthouse

Each tree serves the same seeded chat (tests/e2e/heavy_chat.py: 50 turns, a table, a DataFrame, a matplotlib figure
and a Plotly chart at turn 40) from its own server and database. Bytes are what crossed the network (compressed, as
Chromium's `encodedDataLength` counts them) for: a first load with an empty cache; a reload (the cache warm); and a
first load scrolled up to the chart (plotly.js loads). Medians of `--runs` runs. Lighthouse 12.2.3 (mobile preset,
then desktop) once per tree, lantern's simulated throttling as in tests/e2e/test_lighthouse.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.heavy_chat import write_heavy_chat
from tests.e2e.server import run_server
from tests.e2e.test_lighthouse import lighthouse, summary
from tests.longchat import user_id

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "32875e4"  # main before the light page: nothing compressed, no hashed URLs, plotly.js on any chart


def baseline_tree(rev: str, into: Path) -> Path:
    """`rev` checked out at `into`, sharing this tree's environments and built browser files."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(into), rev], check=True,
                   capture_output=True)
    for shared in (".venv", ".venv-kernel", "node_modules"):
        (into / shared).symlink_to((ROOT / shared).resolve())
    shutil.copytree(ROOT / "static" / "vendor", into / "static" / "vendor", dirs_exist_ok=True)
    return into


def transferred(page: Page, url: str, scroll_to: str | None = None) -> dict[str, float]:
    """Bytes over the network (compressed) and requests for one load of `url` in `page` (and after scrolling to
    `scroll_to` and waiting for its chart, if given)."""
    cdp = page.context.new_cdp_session(page)
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    cdp.send("Network.enable")
    page.goto(url, wait_until="networkidle")
    if scroll_to:
        page.locator(scroll_to).scroll_into_view_if_needed()
        page.wait_for_selector(f"{scroll_to} .plotly-chart .main-svg", timeout=60_000)
        page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    cdp.detach()
    return {"bytes": sum(sizes.values()), "requests": len(sizes)}


def weigh(url: str, runs: int) -> dict[str, dict[str, float]]:
    """Medians over `runs` fresh browsers: cold load, warm reload, and cold load scrolled to the chart."""
    found: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "chart": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(runs):
            ctx = browser.new_context(viewport={"width": 412, "height": 823})
            page = ctx.new_page()
            found["cold"].append(transferred(page, url))
            found["warm"].append(transferred(page, url))
            ctx.close()
            ctx = browser.new_context(viewport={"width": 412, "height": 823})
            found["chart"].append(transferred(ctx.new_page(), url, "#turn-40"))
            ctx.close()
        browser.close()
    return {k: {m: statistics.median(r[m] for r in v) for m in ("bytes", "requests")} for k, v in found.items()}


def scores(url: str, name: str, *extra: str) -> dict[str, Any]:
    """Lighthouse's figures for `url`, tried twice; the error if both runs failed (the baseline's uncompressed
    5 MB plotly.js can outlast Lighthouse's wait for a response body on a loaded machine)."""
    for attempt in (1, 2):
        try:
            return {k: v for k, v in summary(lighthouse(url, name, *extra)).items() if k != "failed"}
        except RuntimeError as e:
            print(f"{name}, try {attempt}: {e}", flush=True)
            error = str(e).strip().splitlines()[-1]
    return {"error": error}


def measure(tree: Path, data: Path, runs: int, with_scores: bool, sized: bool) -> dict[str, Any]:
    with run_server(data, root=tree) as srv:
        urllib.request.urlopen(f"{srv.url}/chat").close()
        chat = write_heavy_chat(srv.db_path, srv.data / "uploads", user_id(srv.db_path, "demo"), sized=sized)
        url = f"{srv.url}/chat/{chat}"
        got: dict[str, Any] = {"weight": weigh(url, runs)}
        print(tree.name, got["weight"], flush=True)
        if with_scores:
            for preset in ("mobile", "desktop"):
                extra = ["--preset=desktop"] if preset == "desktop" else []
                got[preset] = scores(url, f"bench-{tree.name}-{preset}", *extra)
                print(tree.name, preset, got[preset], flush=True)
        return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-lighthouse", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="varro-weight-")))
        base = baseline_tree(args.baseline, tmp / "baseline")
        stack.callback(subprocess.run, ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                       capture_output=True)
        for name, tree, sized in (("baseline", base, False), ("this tree", ROOT, True)):
            results[name] = measure(tree, tmp / f"data-{tree.name}", args.runs, not args.no_lighthouse, sized)
            print(name, json.dumps(results[name]), flush=True)
    out = ROOT / "bench" / "results" / "page_weight.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"baseline": args.baseline, "runs": args.runs, **results}, indent=2))
    for kind in ("cold", "warm", "chart"):
        b, t = results["baseline"]["weight"][kind], results["this tree"]["weight"][kind]
        print(f"{kind:6} {b['bytes'] / 1e3:9.1f} kB ({b['requests']:.0f} requests) -> "
              f"{t['bytes'] / 1e3:9.1f} kB ({t['requests']:.0f} requests)")


if __name__ == "__main__":
    main()
