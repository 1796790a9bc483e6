"""One stateful IPython kernel in its own process, driven over ZeroMQ without blocking the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from varro.shell import cgroup
from varro.shell.launch import chown_tree, unsandboxed_plan
from varro.shell.quota import WorkdirQuota
from varro.shell.result import CellResult, OutputCollector, strip_ansi
from varro.shell.sandbox import (
    HOME,
    OPT_VARRO,
    Isolation,
    NoSandbox,
    Refused,
    Sandbox,
    Unavailable,
    kernel_env,
    launcher,
)
from varro.shell.snapshots import FOLDER

log = logging.getLogger(__name__)

Status = Literal["not started", "starting", "idle", "busy", "dead"]
Outcome = Literal["idle", "timeout", "dead", "gone", "quota"]
OnOutput = Callable[[str], Awaitable[None]]

START_TIMEOUT = 60.0
INTERRUPT_GRACE = 5.0  # how long an interrupted cell may take to unwind before its kernel is deemed stuck
POLL_INTERVAL = 0.5  # how often a silent kernel is checked for having died
SNAPSHOT_TIMEOUT = 60.0  # saving or loading a namespace snapshot
MAX_MESSAGE_BYTES = 32 * 2**20  # the largest message the server reads from a kernel
QUOTA_INTERVAL = 0.25  # how often a running cell's working directory is measured
INSIDE = Path(__file__).with_name("inside")  # the kernel's entry point, bound read-only into the sandbox


class SnapshotError(RuntimeError):
    """A snapshot could not be loaded (corrupt, or from another version): restore by replay instead."""


class _FixedSpecManager(KernelSpecManager):
    """jupyter_client 8 has no `kernel_cmd`; the command comes from a kernel spec, so we hand it ours.

    Interrupts go as messages on the control channel: bwrap does not forward signals to the kernel it runs."""

    def __init__(self, plan: Path) -> None:
        super().__init__()
        argv = [sys.executable, launcher(), str(plan), "{connection_file}"]
        self.spec = KernelSpec(argv=argv, display_name="Varro", language="python", interrupt_mode="message")

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self.spec


def kernel_args(inside: str) -> list[str]:
    # -Xfrozen_modules=off as in ipykernel's own kernel spec: it silences debugpy's startup warning.
    return ["-Xfrozen_modules=off", f"{inside}/kernel_main.py", "-f", "{connection_file}"]


class KernelShell:
    def __init__(
        self,
        workdir: Path,
        *,
        timeout: float = 30.0,
        memory_mb: int = 1024,
        extra_env: dict[str, str] | None = None,
        isolation: Isolation | None = None,
        workdir_mb: int = 1024,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.extra_env = dict(extra_env or {})
        self.isolation: Isolation = isolation if isolation is not None else NoSandbox(Path(sys.executable))
        self.quota = WorkdirQuota(self.workdir, workdir_mb * 2**20)
        self._km: AsyncKernelManager | None = None
        self._kc: AsyncKernelClient | None = None
        self._rundir: Path | None = None
        self._uid: int | None = None
        self._cgroups: list[str] = []
        # Lock order: _lock (one cell at a time) before _start_lock (one start/stop at a time).
        self._lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._starting = False
        self._busy = False

    async def __aenter__(self) -> KernelShell:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    @property
    def status(self) -> Status:
        if self._starting:
            return "starting"
        if self._km is None:
            return "not started"
        if not self._alive():
            return "dead"
        return "busy" if self._busy else "idle"

    @property
    def uid(self) -> int | None:
        """The sandboxed kernel's own uid, while it runs."""
        return self._uid

    @property
    def pid(self) -> int | None:
        provisioner = self._km.provisioner if self._km is not None else None
        return getattr(provisioner, "pid", None)

    def _process(self) -> Any:
        provisioner = self._km.provisioner if self._km is not None else None
        return getattr(provisioner, "process", None)

    def _alive(self) -> bool:
        # Popen.poll is a non-blocking waitpid, cheap enough for a status property.
        process = self._process()
        return process is not None and process.poll() is None

    async def start(self) -> None:
        async with self._start_lock:
            if self._km is not None and self._alive():
                return
            await self._teardown()
            if isinstance(self.isolation, Refused):
                log.error("%s", self.isolation.reason)
                raise Unavailable(self.isolation.reason)
            self._starting = True
            try:
                # Short and under /tmp: a Unix socket path has at most 108 bytes (see STACK-NOTES).
                self._rundir = rundir = Path(tempfile.mkdtemp(prefix="varro-k-", dir="/tmp"))
                self.workdir.mkdir(parents=True, exist_ok=True)
                plan = await asyncio.to_thread(self._plan, rundir)
                self._km = km = AsyncKernelManager(
                    kernel_name="varro",
                    kernel_spec_manager=_FixedSpecManager(plan),
                    transport="ipc",
                    # Absolute: a relative ipc path would resolve against the kernel's cwd and the server's apart.
                    # The sandbox binds the run directory at the same path, so both sides agree.
                    ip=str(rundir / "ipc"),
                    connection_file=str(rundir / "kernel.json"),
                )
                # The kernel's own chatter (ipykernel's banner, bwrap's errors) goes to a log, read if it fails.
                with open(rundir / "kernel.log", "ab") as stderr:  # noqa: ASYNC230  (a new file in /tmp)
                    await km.start_kernel(env={"PATH": os.defpath, **self._host_env()}, cwd=str(self.workdir),
                                          stdout=subprocess.DEVNULL, stderr=stderr)
                # The server decodes each message whole: a hostile cell that writes straight to its sockets, past
                # the kernel's own caps (inside/output_caps.py), gets its connection dropped instead.
                km.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
                self._kc = km.client()
                self._kc.start_channels()
                try:
                    await self._kc.wait_for_ready(timeout=START_TIMEOUT)
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}: {self._log_tail()}") from None
            except BaseException:
                await self._teardown()
                raise
            finally:
                self._starting = False

    def _log_tail(self) -> str:
        try:
            lines = (self._rundir / "kernel.log").read_text(errors="replace").strip().splitlines()  # type: ignore[operator]
        except (OSError, TypeError):
            return "no log"
        return lines[-1] if lines else "no output"

    def adopt_workdir(self, workdir: Path) -> None:
        """Make `workdir` this kernel's folder: what is there moves into the kernel's own (empty) folder, which is
        handed to the kernel's uid and renamed to `workdir`. For a fresh, idle kernel from the pool (pool.py): the
        sandbox's bind mount follows the folder, not its name."""
        workdir, own = Path(workdir).resolve(), self.workdir
        workdir.parent.mkdir(parents=True, exist_ok=True)
        if workdir.exists():
            for entry in workdir.iterdir():
                os.rename(entry, own / entry.name)
            workdir.rmdir()
        if self._uid is not None:
            chown_tree(str(own), self._uid)
        os.rename(own, workdir)
        self.workdir = workdir
        self.quota = WorkdirQuota(workdir, self.quota.limit)

    @property
    def home(self) -> str:
        """The chat's working directory as code in the kernel sees it."""
        return HOME if isinstance(self.isolation, Sandbox) else str(self.workdir)

    async def save_snapshot(self, turn: int, limit_bytes: int) -> dict[str, Any] | None:
        """Pickle the namespace, name by name, into the snapshot of `turn` (inside the kernel); what it said."""
        path = f"{self.home}/{FOLDER}/turn-{turn}.pkl"
        return await self._hidden(f"__import__('snapshot').save({path!r}, {limit_bytes})")

    async def load_snapshot(self, turn: int) -> list[str]:
        """Load the snapshot of `turn` into the namespace (inside the kernel); the names it could not bring back.
        Raises SnapshotError if the snapshot can't be read at all."""
        path = f"{self.home}/{FOLDER}/turn-{turn}.pkl"
        said = await self._hidden(f"__import__('snapshot').load({path!r})")
        if said is None or not isinstance(said.get("failed"), list):
            raise SnapshotError(f"the snapshot of turn {turn} could not be loaded")
        return [str(name) for name in said["failed"]]

    async def _hidden(self, code: str) -> dict[str, Any] | None:
        """Run code of the server's own (not the user's history: no execution count); its JSON line, or None."""
        result = await self.execute(code, timeout=SNAPSHOT_TIMEOUT, store_history=False)
        if result.error is not None or result.timed_out:
            log.warning("hidden cell failed: %s", (result.error or "timed out").splitlines()[0])
            return None
        try:
            said = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None
        return said if isinstance(said, dict) else None

    # ASYNC109: the timeout is not a cancellation; it ends in a kernel interrupt that keeps the namespace.
    async def execute(self, code: str, timeout: float | None = None,  # noqa: ASYNC109
                      store_history: bool = True, on_output: OnOutput | None = None) -> CellResult:
        """Run `code`; `on_output` is awaited with each piece of stdout/stderr as it arrives (for a live page)."""
        limit = self.timeout if timeout is None else timeout
        async with self._lock:
            replaced = self._km is not None and not self._alive()
            try:
                await self.start()
            except Unavailable as exc:
                return CellResult(error=f"SandboxUnavailable: {exc}")
            self._busy = True
            try:
                result = await self._run(code, limit, store_history, on_output)
            except asyncio.CancelledError:
                # The caller gave up (e.g. the user pressed stop); without this the kernel would keep running the
                # cell and every later cell would queue behind it.
                await self.interrupt()
                raise
            finally:
                self._busy = False
            # A kernel that died between cells was replaced before this one ran: say so once.
            result.kernel_restarted |= replaced
            return result

    async def _run(self, code: str, limit: float, store_history: bool = True,
                   on_output: OnOutput | None = None) -> CellResult:
        kc = self._kc
        assert kc is not None
        collector = OutputCollector()
        started = time.monotonic()
        before = await asyncio.to_thread(self.quota.listing)
        # stop_on_error=False: otherwise ipykernel aborts requests queued behind a failing (or interrupted) cell,
        # e.g. the next cell sent right after a cancelled one, and they come back empty.
        msg_id = kc.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False)
        outcome = await self._read_until_idle(kc, msg_id, collector, started + limit, on_output)
        timed_out = outcome == "timeout"
        if timed_out:
            await self.interrupt()
            outcome = await self._read_until_idle(kc, msg_id, collector, time.monotonic() + INTERRUPT_GRACE, on_output)
        if outcome == "idle":
            await self._read_reply(kc, msg_id, collector)
            if await asyncio.to_thread(self.quota.over):  # written faster than the watcher looks
                outcome = "quota"
        if outcome == "dead":
            if cgroup.oom_killed(self._cgroups):
                collector.add_error("MemoryLimit", f"the cell used more than the kernel's {self.memory_mb} MiB of "
                                    "memory and the kernel was stopped", [])
            else:
                exit_code = self._process().poll()
                collector.add_error("KernelDied", f"the kernel process exited with code {exit_code} during this cell",
                                    [])
        elif outcome == "gone":
            collector.add_error("KernelShutdown", "the shell was shut down while this cell was running", [])
        elif outcome == "quota":
            await self._stop_kernel()
            removed = await asyncio.to_thread(self.quota.undo_growth, before)
            collector.add_error("DiskQuota", f"the chat's files passed their quota of {self.quota.limit // 2**20} MiB; "
                                f"the cell was stopped and the files it wrote were removed ({', '.join(removed)})", [])
        # Dead, over quota, or deaf to the interrupt: only a fresh kernel makes the shell usable again.
        if restarted := outcome in ("dead", "timeout", "quota"):
            await self._replace_kernel()
        return collector.build(
            timed_out=timed_out, kernel_restarted=restarted, timeout=limit, duration=time.monotonic() - started
        )

    async def _stop_kernel(self) -> None:
        async with self._start_lock:
            await self._teardown()

    async def _read_until_idle(
        self, kc: AsyncKernelClient, msg_id: str, collector: OutputCollector, deadline: float,
        on_output: OnOutput | None = None,
    ) -> Outcome:
        next_quota_check = time.monotonic() + QUOTA_INTERVAL
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return "timeout"
            if now >= next_quota_check:
                if await asyncio.to_thread(self.quota.over):
                    return "quota"
                next_quota_check = time.monotonic() + QUOTA_INTERVAL
            msg = await self._receive(kc, kc.get_iopub_msg, min(remaining, POLL_INTERVAL))
            if msg is None:
                if self._kc is not kc:
                    return "gone"
                if not self._alive():
                    return "dead"
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue  # late output of an earlier, interrupted cell
            if msg["msg_type"] == "status":
                if msg["content"].get("execution_state") == "idle":
                    return "idle"
                continue
            collector.feed(msg["msg_type"], msg["content"])
            if on_output is not None and msg["msg_type"] == "stream":
                await on_output(strip_ansi(str(msg["content"].get("text", ""))))

    async def _read_reply(self, kc: AsyncKernelClient, msg_id: str, collector: OutputCollector) -> None:
        # Sent before the idle status, so normally already waiting; read so the shell channel does not fill up.
        deadline = time.monotonic() + 1.0
        while (remaining := deadline - time.monotonic()) > 0:
            msg = await self._receive(kc, kc.get_shell_msg, remaining)
            if msg is None:
                return
            if msg["parent_header"].get("msg_id") == msg_id:
                collector.feed_reply(msg["content"])
                return

    async def _receive(
        self, kc: AsyncKernelClient, get: Callable[..., Awaitable[dict[str, Any]]], wait: float
    ) -> dict[str, Any] | None:
        """The next message from one channel; None on timeout or when a concurrent shutdown took the client."""
        try:
            return await get(timeout=wait)
        except queue.Empty:
            return None
        except (Exception, asyncio.CancelledError):
            # A shutdown closing the socket cancels zmq's poll future; a real cancellation of this task must propagate.
            task = asyncio.current_task()
            if self._kc is kc or (task is not None and task.cancelling()):
                raise
            return None

    async def _replace_kernel(self) -> None:
        async with self._start_lock:
            await self._teardown()
        await self.start()

    async def interrupt(self) -> None:
        if self._km is not None and self._alive():
            await self._km.interrupt_kernel()

    async def restart(self) -> None:
        if self._busy:
            await self.interrupt()
        async with self._lock:
            await self._replace_kernel()

    async def shutdown(self) -> None:
        async with self._start_lock:
            await self._teardown()

    def _plan(self, rundir: Path) -> Path:
        """The launch plan (see launch.py): sandboxed, or only memory-capped with VARRO_SANDBOX=off."""
        path = rundir / "launch.json"
        if isinstance(self.isolation, Sandbox):
            sandbox = self.isolation
            self._uid = uid = sandbox.take_uid()
            argv = [str(sandbox.kernel_python), *kernel_args(OPT_VARRO)]
            env = kernel_env({"IPYTHONDIR": str(rundir / "ipython"), **self.extra_env})
            env["PATH"] = f"{sandbox.kernel_python.parent}:{env['PATH']}"
            written, self._cgroups = sandbox.prepare(f"{os.getpid()}-{uid}", uid, self.workdir, rundir, argv, env,
                                                     self.memory_mb)
            return written
        assert isinstance(self.isolation, NoSandbox)
        path.write_text(json.dumps(unsandboxed_plan(self.memory_mb, [str(self.isolation.python), *kernel_args(str(INSIDE))])))
        return path

    def _host_env(self) -> dict[str, str]:
        """The unsandboxed kernel's environment (a sandboxed one gets its own from the plan; bwrap clears this)."""
        if not isinstance(self.isolation, NoSandbox):
            return {}
        assert self._rundir is not None
        env = kernel_env({"IPYTHONDIR": str(self._rundir / "ipython"), **self.extra_env})
        env.update(HOME=str(self.workdir), MPLCONFIGDIR=str(self._rundir / "matplotlib"),
                   PATH=f"{self.isolation.python.parent}:{os.environ.get('PATH', os.defpath)}")
        return env

    async def _teardown(self) -> None:
        km, kc, rundir = self._km, self._kc, self._rundir
        uid, cgroups = self._uid, self._cgroups
        self._km = self._kc = self._rundir = self._uid = None
        self._cgroups = []
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            try:
                # now=True: SIGKILL to the kernel's process group, so its subprocesses go too.
                await km.shutdown_kernel(now=True)
            except Exception:
                log.exception("kernel shutdown failed")
        if cgroups:
            await asyncio.to_thread(cgroup.remove, cgroups)
        if uid is not None and isinstance(self.isolation, Sandbox):
            self.isolation.release_uid(uid)
        if rundir is not None:
            shutil.rmtree(rundir, ignore_errors=True)
