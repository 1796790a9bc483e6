"""The servers under test, each in its own process on a free port with its own data folder and trace file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.e2e.server import ROOT, _wait_ready, free_port, kernels_dir, reachable, stop
from varro.privileges import die_with_parent

Kind = Literal["app", "baseline"]
SECRET_KEY = "bench-only-secret-key"  # the bench server's session key, so the capacity bench can sign cookies


@dataclass
class Server:
    kind: Kind
    url: str
    data: Path
    process: subprocess.Popen[bytes]
    trace: TraceReader

    @property
    def db_path(self) -> Path:
        return self.data / "varro.db"

    def rss_kib(self) -> int:
        """Resident memory of the server process now (Linux /proc)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


@dataclass
class TraceReader:
    """Reads the server's trace file as it grows; records grouped by chat (or baseline run) id."""

    path: Path
    offset: int = 0
    by_chat: dict[int, list[dict]] = field(default_factory=dict)

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # only whole lines; the rest is still being written
        self.offset += end
        for line in data[:end].splitlines():
            rec = json.loads(line)
            self.by_chat.setdefault(rec["c"], []).append(rec)

    def records(self, chat: int) -> list[dict]:
        self.poll()
        return self.by_chat.get(chat, [])

    def finished(self, chat: int) -> bool:
        return any("TurnFinished" in r["k"] for r in self.records(chat))


@contextmanager
def run(kind: Kind, data: Path, root: Path = ROOT, traced: bool = True, **env: str) -> Iterator[Server]:
    """`python -m app` (the demo model, VARRO_DEMO_TPS as given) or the baseline app, from the checkout at `root`;
    `traced=False`: no trace file (a line a frame), for a figure that is only the clients' own clock."""
    data.mkdir(parents=True, exist_ok=True)
    reachable(data)  # started as root, the app serves as its unprivileged web user
    port = free_port()
    trace = data / "trace.jsonl"
    full_env = {
        # The app starts a kernel host of its own, as `python -m app` does (not a test's, when run from one).
        **{k: v for k, v in os.environ.items()
           if k not in ("VARRO_KERNEL_HOSTS", "VARRO_KERNEL_HOST_TOKEN", "VARRO_KERNEL_SPACE")},
        "VARRO_HOST": "127.0.0.1",
        "VARRO_PORT": str(port),
        "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'varro.db'}",
        "VARRO_UPLOADS_DIR": str(data / "uploads"),
        "VARRO_KERNELS_DIR": str(kernels_dir(data)),
        "VARRO_SECRET_KEY": SECRET_KEY,
        "VARRO_TRACE_FILE": str(trace),
        "PYTHONUNBUFFERED": "1",
        # Every simulated user is on 127.0.0.1 and sends as fast as it can: the budgets per address and the turns a
        # minute (which are there to stop exactly that) would measure themselves rather than the stream.
        "VARRO_MAX_SOCKETS_PER_ADDRESS": "100000",
        "VARRO_ADDRESS_FRAMES_PER_S": "1000000",
        "VARRO_ADDRESS_FRAME_BURST": "1000000",
        "VARRO_TURNS_PER_MIN": "100000",
        **env,
    }
    if not traced:
        del full_env["VARRO_TRACE_FILE"]
    module = "app" if kind == "app" else "bench.baseline_app"
    log = data / f"server-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=root, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)  # as the tests' servers
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield Server(kind, url, data, proc, TraceReader(trace))
    finally:
        stop(proc)
