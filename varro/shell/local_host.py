"""A kernel host on this machine, started by the web tier's launcher (`python -m app`) or by tests.

It listens on loopback with a fresh token, inherits the environment (so the shared `VARRO_*` settings reach it),
and dies with whoever started it: it reads a pipe that only its parent holds open (its "lifeline"), and stops,
kernels and all, when that pipe closes, even if the parent was killed.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT = 90.0  # jupyter_server's start and the sandbox's self-test, on a loaded machine


class HostDidNotStart(RuntimeError):
    pass


@dataclass
class LocalHost:
    process: subprocess.Popen[bytes]
    url: str
    token: str

    def wait_ready(self, log_path: Path | None = None) -> None:
        """Return once the host answers its health check (its start: jupyter_server's imports, the sandbox's
        self-test); `HostDidNotStart` if it exits or stays silent."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HostDidNotStart(f"the kernel host exited with code {self.process.returncode} at start-up"
                                      + (f" (see {log_path})" if log_path else ""))
            try:
                if httpx.get(f"{self.url}/varro/health", headers={"Authorization": f"token {self.token}"},
                             timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise HostDidNotStart(f"the kernel host did not answer within {READY_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the lifeline: the host shuts its kernels down and exits
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    self.process.kill()
                except PermissionError:  # a root host, and we dropped root since: its closed lifeline ends it
                    return
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_local_host(kernels_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None,
                     token: str | None = None) -> LocalHost:
    """Start `python -m varro.kernels` on a free loopback port (with a fresh token unless given one); returns once it
    answers."""
    host = spawn_local_host(kernels_dir, env, log_path, token)
    try:
        host.wait_ready(log_path)
    except HostDidNotStart:
        host.process.kill()
        raise
    return host


def spawn_local_host(kernels_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None,
                     token: str | None = None) -> LocalHost:
    """`start_local_host` without the wait: the host starts while the caller goes on (`python -m app` imports the
    web tier meanwhile); call `wait_ready` before using it."""
    token = token or secrets.token_urlsafe(32)
    port = free_port()
    full_env = {**os.environ, **(env or {}), "VARRO_KERNEL_HOST_TOKEN": token, "VARRO_KERNEL_HOST_PORT": str(port),
                "VARRO_KERNEL_HOST_BIND": "127.0.0.1", "VARRO_KERNELS_DIR": str(kernels_dir.resolve()),
                "VARRO_KERNEL_HOST_LIFELINE": "1"}
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115  (the child holds it)
    try:
        process = subprocess.Popen([sys.executable, "-m", "varro.kernels"], env=full_env, stdin=subprocess.PIPE,
                                   stdout=log if log is not None else None, stderr=subprocess.STDOUT if log else None)
    finally:
        if log is not None:
            log.close()
    return LocalHost(process, f"http://127.0.0.1:{port}", token)
