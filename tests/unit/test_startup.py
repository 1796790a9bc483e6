"""`python -m app` tells the user where to go only when the page can be opened there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.server import ROOT, free_port, kernels_dir, reachable, stop


def test_the_server_prints_its_address_only_once_it_accepts_connections(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    reachable(data)  # started as root, the app serves as its web user
    env = {**os.environ, "VARRO_PORT": str(port), "VARRO_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1",
           "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'v.db'}", "VARRO_UPLOADS_DIR": str(data / "u"),
           "VARRO_KERNELS_DIR": str(kernels_dir(data))}
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if f"http://127.0.0.1:{port}" in line:
                break
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass  # refused here before the fix: the address was printed before uvicorn listened
    finally:
        stop(proc)


def test_a_kernel_host_that_cannot_start_stops_the_app_with_one_line(tmp_path: Path) -> None:
    """The host starts beside the web tier's imports (app/__main__.py); when it fails, the app says so and serves
    nothing, rather than a page whose every cell fails."""
    data = tmp_path / "data"
    data.mkdir()
    reachable(data)
    blocked = tmp_path / "kernels"
    blocked.write_text("a file where the kernel host's folder should be")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("VARRO_KERNEL_HOST")}  # its own host
    env = {**inherited, "VARRO_PORT": str(free_port()), "VARRO_HOST": "127.0.0.1",
           "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'v.db'}", "VARRO_UPLOADS_DIR": str(data / "u"),
           "VARRO_KERNELS_DIR": str(blocked)}
    done = subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Varro Chat did not start: the kernel host exited with code"), done.stderr[-2000:]
    assert "is ready on" not in done.stdout
