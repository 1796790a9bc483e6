"""Loopback stand-ins for paid services, so tests drive the real client code without a key or a network.

Each fake is a module runnable as `python -m tests.fakes.<name> --port N` that answers `GET /_health`;
`run_fake` starts one in a subprocess on 127.0.0.1 and stops it, both within bounded time.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Ignores any *_PROXY variables: the fakes only ever live on loopback.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with LOCAL.open(url, timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def run_fake(module: str, port: int | None = None, log: Path | None = None, *args: str,
             start_timeout: float = 20) -> Iterator[str]:
    """Run `python -m module --port N *args` until the block ends; yields `http://127.0.0.1:N`.

    Output goes to `log` (a temporary file when not given), and is shown if the fake fails to start.
    """
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="fake-") as tmp:
        log = log or Path(tmp) / "fake.log"
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), *args], cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT)
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + start_timeout
        try:
            while not answers(f"{base}/_health"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{module} did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)  # a graceful stop first (the fake bounds its own shutdown)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
