"""Start the real app (`python -m app`) in a subprocess on a free port, with its own data folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from varro.privileges import die_with_parent

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def db_path(self) -> Path:
        return self.data / "varro.db"

    @property
    def kernels(self) -> Path:
        """The kernel host's folder (root's), beside the web tier's data folder (the web user's)."""
        return kernels_dir(self.data)

    def chat_folder(self, user_id: int, chat_id: int) -> Path:
        return chat_folder(self.kernels, user_id, chat_id)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def kernels_dir(data: Path) -> Path:
    return data.parent / f"{data.name}-kernels"


def chat_folder(kernels: Path, user_id: int, chat_id: int, space: str = "main") -> Path:
    """Where the kernel host keeps a chat's folder (varro/kernels/chats.py)."""
    return kernels / "chats" / space / str(user_id) / str(chat_id)


def reachable(folder: Path) -> None:
    """Started as root, the app serves as its unprivileged web user: the folders above a test's data folder (made
    0700 by pytest) must let it through (search bit only)."""
    if os.geteuid() != 0:
        return
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def process_uid(pid: int) -> int:
    """The real uid of a running process (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise ValueError(f"no uid for {pid}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, ready: str = "/chat/static/js/chat.js",
                timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}{ready}", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start in {timeout} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl+C, as a user would; kill only if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def run_server(data: Path, port: int | None = None, module: str = "app", ready: str = "/chat/static/js/chat.js",
               root: Path = ROOT, args: tuple[str, ...] = (), **env: str) -> Iterator[Server]:
    """`python -m module [args]` (the standalone app, or a host that mounts the chat) with its data in `data`; it
    is up when `ready` answers. `root`: the source tree it runs from (another revision's, for a baseline)."""
    data.mkdir(parents=True, exist_ok=True)
    reachable(data)
    port = port or free_port()
    # The app starts a kernel host of its own (as `make run` does), unless the test names one.
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("VARRO_KERNEL_HOSTS", "VARRO_KERNEL_HOST_TOKEN", "VARRO_KERNEL_SPACE")}
    full_env = {
        **inherited,
        "VARRO_HOST": "127.0.0.1",
        "VARRO_PORT": str(port),
        "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'varro.db'}",
        "VARRO_UPLOADS_DIR": str(data / "uploads"),
        "VARRO_KERNELS_DIR": str(kernels_dir(data)),
        "VARRO_DEMO_TPS": "300",
        # A test's user sends as fast as the page lets it, and a module's tests share one: far past what a person
        # sends a minute. The limit has its own tests, which set it (the budgets per address keep their defaults).
        "VARRO_TURNS_PER_MIN": "10000",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log = data / f"server-{port}.log"
    with log.open("ab") as out:
        # SIGTERM if this test process dies first (a CI timeout's kill): the server, and its kernel host with it, stop
        # too, even after dropping to the web user (varro/privileges.py keeps the signal across the drop).
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=root, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log, ready)
        yield Server(url, data, proc, log)
    finally:
        stop(proc)
