"""`python -m bench.startup [--before DIR]`: seconds from `python -m app` to its first answered request.

Each start is a fresh data folder and a fresh process (as `make run`, and every test server, starts): started as
root, that includes the kernel host's start and the drop to the web user. The figure is the wall time from the
spawn until `GET /chat/static/js/chat.js` answers 200 (polled every 20 ms). With `--before`, the same for another
checkout (`git archive REV | tar -x -C DIR`, with this checkout's `.venv` beside it), the two alternating so load
from elsewhere meets both alike. Printed: every start, and the median of `--runs` for each.

    python -m bench.startup --before /tmp/before --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.e2e.server import ROOT, free_port, kernels_dir, reachable, stop
from varro.privileges import die_with_parent


def start_once(tree: Path) -> float:
    """Seconds until a fresh `python -m app` from `tree` answers."""
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        reachable(data)
        port = free_port()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("VARRO_KERNEL_HOST")}
        env = {**inherited, "PYTHONPATH": str(tree), "VARRO_HOST": "127.0.0.1", "VARRO_PORT": str(port),
               "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'varro.db'}",
               "VARRO_UPLOADS_DIR": str(data / "uploads"), "VARRO_KERNELS_DIR": str(kernels_dir(data))}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"python -m app from {tree} exited with {proc.returncode}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/chat/static/js/chat.js", timeout=1):
                        return time.perf_counter() - started
                except OSError:
                    time.sleep(0.02)
        finally:
            stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with (the baseline)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trees = {"this checkout": ROOT}
    if args.before is not None:
        trees = {"before": args.before.resolve(), **trees}
    seconds: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            seconds[name].append(start_once(tree))
            print(f"  {name}: {seconds[name][-1]:.2f} s", flush=True)
    print("\n| checkout | starts | median, s | each, s |")
    print("|---|--:|--:|---|")
    for name, runs in seconds.items():
        print(f"| {name} | {len(runs)} | {statistics.median(runs):.2f} | {', '.join(f'{r:.2f}' for r in runs)} |")


if __name__ == "__main__":
    main()
