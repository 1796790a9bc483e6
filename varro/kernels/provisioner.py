"""Launching a kernel in the sandbox, through jupyter_client's kernel provisioner API.

jupyter_server starts every kernel through a provisioner named by the kernel spec (`varro-sandbox`, registered as an
entry point in pyproject.toml): this one writes the sandbox's launch plan (varro/kernels/sandbox/plan.py) into a run
directory of the kernel's own, points the kernel's ZeroMQ sockets at Unix sockets there (a sandbox has no network),
and runs the launcher, which drops to the kernel's uid and execs bubblewrap. Everything else (polling, signals,
shutdown) is jupyter_client's `LocalProvisioner`, since the launcher keeps the kernel our direct child.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_client.provisioning import LocalProvisioner

from varro.kernels.sandbox import cgroup
from varro.kernels.sandbox.launch import unsandboxed_plan
from varro.kernels.sandbox.plan import OPT_VARRO, NoSandbox, Refused, Sandbox, Unavailable, kernel_env, launcher

if TYPE_CHECKING:
    from varro.kernels.manager import ChatKernelManager

log = logging.getLogger(__name__)

INSIDE = Path(__file__).resolve().parent / "sandbox" / "inside"  # the kernel's entry point (read-only inside)


def kernel_args(inside: str) -> list[str]:
    # -Xfrozen_modules=off as in ipykernel's own kernel spec: it silences debugpy's start-up warning.
    return ["-Xfrozen_modules=off", f"{inside}/kernel_main.py", "-f", "{connection_file}"]


class SandboxProvisioner(LocalProvisioner):
    """One kernel's launch: run directory, uid and cgroups are this provisioner's until `cleanup`."""

    rundir: Path | None = None
    uid: int | None = None
    cgroups: list[str] = []
    exit_code: int | None = None
    ended: dict[str, Any] = {}  # how the last process ended: {"memory": killed for memory, "exit_code": ...}

    @property
    def chats(self) -> ChatKernelManager:
        km: Any = self.parent
        return km.parent  # type: ignore[no-any-return]  # the kernel manager's own manager

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        isolation = self.chats.isolation
        if isinstance(isolation, Refused):
            raise Unavailable(isolation.reason)
        km: Any = self.parent
        if self.rundir is None:  # a restart keeps its run directory and uid
            # Short and under /tmp: a Unix socket path has at most 108 bytes.
            self.rundir = Path(tempfile.mkdtemp(prefix="varro-k-", dir="/tmp"))
        rundir = self.rundir
        # Absolute: the sandbox binds the run directory at the same path, so kernel and host agree on the sockets.
        km.transport = "ipc"
        km.ip = str(rundir / "ipc")
        km.connection_file = str(rundir / "kernel.json")
        workdir = Path(kwargs.get("cwd") or rundir)
        plan = self._plan(rundir, workdir)
        kwargs = await super().pre_launch(**kwargs)
        kwargs["cmd"] = [sys.executable, launcher(), str(plan), km.connection_file]
        kwargs["env"] = {"PATH": os.defpath, **self._host_env(rundir, workdir)}
        kwargs["stdout"] = subprocess.DEVNULL
        # The kernel's own chatter (ipykernel's banner, bwrap's errors) goes to a log, read when it fails to start.
        kwargs["stderr"] = open(rundir / "kernel.log", "ab")  # noqa: ASYNC230, SIM115  (a new local file; closed in launch_kernel)
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        stderr = kwargs.get("stderr")
        try:
            return await super().launch_kernel(cmd, **kwargs)
        finally:
            if stderr is not None and hasattr(stderr, "close"):
                stderr.close()

    def _plan(self, rundir: Path, workdir: Path) -> Path:
        chats = self.chats
        isolation = chats.isolation
        path = rundir / "launch.json"
        if isinstance(isolation, Sandbox):
            if self.uid is None:
                self.uid = isolation.take_uid()
            argv = [str(isolation.kernel_python), *kernel_args(OPT_VARRO)]
            env = kernel_env({"IPYTHONDIR": str(rundir / "ipython"), **chats.kernel_env})
            env["PATH"] = f"{isolation.kernel_python.parent}:{env['PATH']}"
            shutil.rmtree(rundir / "binds", ignore_errors=True)
            written, self.cgroups = isolation.prepare(f"{os.getpid()}-{self.uid}", self.uid, workdir, rundir, argv,
                                                      env, chats.memory_mb)
            return written
        assert isinstance(isolation, NoSandbox)
        argv = [str(isolation.python), *kernel_args(str(INSIDE))]
        path.write_text(json.dumps(unsandboxed_plan(chats.memory_mb, argv)))
        return path

    def _host_env(self, rundir: Path, workdir: Path) -> dict[str, str]:
        """The unsandboxed kernel's environment (a sandboxed one gets its own from the plan; bwrap clears this)."""
        isolation = self.chats.isolation
        if not isinstance(isolation, NoSandbox):
            return {}
        env = kernel_env({"IPYTHONDIR": str(rundir / "ipython"), **self.chats.kernel_env})
        env.update(HOME=str(workdir), MPLCONFIGDIR=str(rundir / "matplotlib"),
                   PATH=f"{isolation.python.parent}:{os.environ.get('PATH', os.defpath)}")
        return env

    async def kill_all(self, wait_s: float = 5.0) -> None:
        """Kill the kernel and everything it started, and return once none of it runs: whatever it was writing in
        its folder then stays as it is (a quota's undo must not race the last writes of a dying cell). Without
        cgroups, the kernel's own process is waited for."""
        process, cgroups = self.process, list(self.cgroups)
        await self.kill()
        if cgroups:
            if not await asyncio.to_thread(cgroup.emptied, cgroups, wait_s):
                log.warning("kernel processes still ran %.0f s after being killed", wait_s)
            return
        deadline = asyncio.get_running_loop().time() + wait_s
        while process is not None and process.poll() is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    def oom_killed(self) -> bool:
        return bool(self.cgroups) and cgroup.oom_killed(self.cgroups)

    def log_tail(self) -> str:
        try:
            lines = (self.rundir / "kernel.log").read_text(errors="replace").strip().splitlines()  # type: ignore[operator]
        except (OSError, TypeError):
            return "no log"
        return lines[-1] if lines else "no output"

    async def poll(self) -> int | None:
        process = self.process
        code = await super().poll()
        if process is not None and code is not None:
            self.exit_code = code  # `wait` forgets the process: its code is kept for `cleanup`
        return code

    async def wait(self) -> int | None:
        process = self.process
        code = await super().wait()
        if process is not None and process.returncode is not None:
            self.exit_code = process.returncode
        return code

    async def cleanup(self, restart: bool = False) -> None:
        # Read before the cgroups go: how the kernel ended, for the cell it ended (see `ChatKernelManager.end_cell`).
        self.ended = {"memory": await asyncio.to_thread(self.oom_killed), "exit_code": self.exit_code}
        self.exit_code = None
        await super().cleanup(restart)
        if self.cgroups:
            await asyncio.to_thread(cgroup.remove, self.cgroups)
            self.cgroups = []
        if restart:
            return
        isolation = self.chats.isolation
        if self.uid is not None and isinstance(isolation, Sandbox):
            isolation.release_uid(self.uid)
        self.uid = None
        if self.rundir is not None:
            shutil.rmtree(self.rundir, ignore_errors=True)
            self.rundir = None
