"""A chat's kernel on a kernel host, driven over the Jupyter kernels protocol without blocking the event loop.

The host owns the kernel's process, sandbox, folder and quota; this side sends cells and reads their output over the
kernels API's websocket, with the cell's time limit, interrupts and output caps of the web tier. Whether a cell
passed the folder's quota or killed its kernel, the host says when the cell ends (after its idle status, on the
channels; otherwise `HostClient.end_cell`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from varro.kernel_protocol import CELL_END, CELL_MARK
from varro.shell.channels import Channels, ChannelsClosed
from varro.shell.host import HostClient, HostLost, Unavailable
from varro.shell.hosts import KernelHosts
from varro.shell.result import CellResult, OutputCollector, strip_ansi
from varro.shell.snapshots import FOLDER

log = logging.getLogger(__name__)

Status = Literal["not started", "starting", "idle", "busy", "dead"]
Outcome = Literal["idle", "timeout", "dead", "lost"]
OnOutput = Callable[[str], Awaitable[None]]

IOPUB_WAIT = 0.5  # after kernel_info's reply, how long its status may take on iopub before asking again
START_TIMEOUT = 60.0
INTERRUPT_GRACE = 5.0  # how long an interrupted cell may take to unwind before its kernel is deemed stuck
POLL_INTERVAL = 0.5
SNAPSHOT_TIMEOUT = 60.0  # saving or loading a namespace snapshot
END_WAIT = 60.0  # how long a cell's end may take the host after its idle status (storing the folder included)


class SnapshotError(RuntimeError):
    """A snapshot could not be loaded (corrupt, or from another version): restore by replay instead."""


class RemoteKernel:
    def __init__(self, host: KernelHosts | HostClient, user_id: int, chat_id: int, *, timeout: float = 30.0) -> None:
        self.host = host
        self.user_id = user_id
        self.chat_id = chat_id
        self.timeout = timeout
        self.kernel_id: str | None = None
        self._channels: Channels | None = None
        self._ready = False  # a kernel_info reply came since the kernel last (re)started
        # Lock order: _lock (one cell at a time) before _start_lock (one start/stop at a time).
        self._lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._starting = False
        self._busy = False
        # The namespace is gone: the kernel this side knew stopped being reachable and another one took its place
        # (its host went away). The session restores the chat's state into the new one (varro/chat/shell_state.py).
        self.state_lost = False

    @property
    def status(self) -> Status:
        if self._starting:
            return "starting"
        if self._channels is None:
            return "not started"
        if self._channels.closed:
            return "dead"
        return "busy" if self._busy else "idle"

    async def attach(self) -> bool:
        """Connect to the chat's kernel if the host still runs one (kept since the chat's last session): every name
        as it was, nothing re-run. True if there was one."""
        async with self._start_lock:
            if self._connected():
                return True
            try:
                kernel_id = await self.host.kernel_of(self.user_id, self.chat_id)
            except HostLost:
                return False
            if kernel_id is None:
                return False
            await self._connect(kernel_id)
            return True

    def _connected(self) -> bool:
        return self._channels is not None and not self._channels.closed

    async def start(self) -> None:
        async with self._start_lock:
            if self._connected():
                if not self._ready:
                    await self._wait_ready()
                return
            self._starting = True
            try:
                kernel_id = await self.host.start_kernel(self.user_id, self.chat_id)
                if self.kernel_id is not None and kernel_id != self.kernel_id:
                    self.state_lost = True
                await self._connect(kernel_id)
                await self._wait_ready()
            finally:
                self._starting = False

    async def _connect(self, kernel_id: str) -> None:
        await self._close_channels()
        self.kernel_id = kernel_id
        self._channels = await Channels.open(self.host.channels_url(kernel_id), self.host.token)
        self._ready = False

    async def _wait_ready(self) -> None:
        """Ask for kernel_info until the kernel answers on both channels: its reply on shell, and the status of one of
        these requests on iopub. A kernel just (re)started can answer on shell before the host's iopub subscription
        to it is live (ZeroMQ's slow joiner); a cell sent then loses its first output (its result, with only its
        idle status seen), so, as jupyter_server nudges a new connection, this asks again until iopub speaks."""
        channels = self._channels
        assert channels is not None
        deadline = time.monotonic() + START_TIMEOUT
        asked: set[str] = set()
        replied = False
        while (remaining := deadline - time.monotonic()) > 0:
            asked.add(await channels.send("shell", "kernel_info_request", {}))
            until = time.monotonic() + min(remaining, IOPUB_WAIT if replied else 2.0)
            while (wait := until - time.monotonic()) > 0:
                msg = await channels.receive("iopub" if replied else "shell", wait)
                if msg is None or msg["parent_header"].get("msg_id") not in asked:
                    continue
                if replied:
                    channels.drain("iopub")  # its status messages, and output of cells nobody waits for
                    self._ready = True
                    return
                replied = True
                until = time.monotonic() + min(deadline - time.monotonic(), IOPUB_WAIT)
        raise RuntimeError("the kernel did not become ready in time")

    @property
    def home(self) -> str:
        """The chat's folder as code in the kernel sees it: its home, whether sandboxed or not."""
        return "__import__('os').environ['HOME']"

    async def save_snapshot(self, turn: int, limit_bytes: int) -> dict[str, Any] | None:
        """Pickle the namespace, name by name, into the snapshot of `turn` (inside the kernel); what it said."""
        return await self._hidden(f"__import__('snapshot').save({self._snapshot(turn)}, {limit_bytes})")

    async def load_snapshot(self, turn: int) -> list[str]:
        """Load the snapshot of `turn` into the namespace (inside the kernel); the names it could not bring back.
        Raises SnapshotError if the snapshot can't be read at all."""
        said = await self._hidden(f"__import__('snapshot').load({self._snapshot(turn)})")
        if said is None or not isinstance(said.get("failed"), list):
            raise SnapshotError(f"the snapshot of turn {turn} could not be loaded")
        return [str(name) for name in said["failed"]]

    def _snapshot(self, turn: int) -> str:
        return f"{self.home} + '/{FOLDER}/turn-{turn}.pkl'"

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
            replaced = self.kernel_id is not None and not self._connected()
            try:
                await self.start()
            except Unavailable as exc:
                return CellResult(error=f"SandboxUnavailable: {exc}")
            except (HostLost, ChannelsClosed, OSError) as exc:
                await self._close_channels()
                return CellResult(error=f"KernelHostLost: the shell's host could not be reached ({exc})")
            try:
                replaced |= await self._died_between_cells()
            except (RuntimeError, ChannelsClosed) as exc:
                await self._close_channels()
                return CellResult(error=f"KernelHostLost: the shell's host could not be reached ({exc})")
            self._busy = True
            try:
                result = await self._run(code, limit, store_history, on_output)
            except asyncio.CancelledError:
                # The caller gave up (the user pressed stop); without this the kernel would keep running the cell
                # and every later cell would queue behind it.
                await asyncio.shield(self.interrupt())
                raise
            finally:
                self._busy = False
            result.kernel_restarted |= replaced
            return result

    async def _died_between_cells(self) -> bool:
        """True if the kernel died (or was stopped) since the last cell: the host restarted it, and this waits until
        the new one answers. Otherwise its news would be taken for the next cell's death."""
        channels = self._channels
        assert channels is not None
        news = channels.drain("iopub")
        if not any(m.get("msg_type") == "status" and m.get("content", {}).get("execution_state") in ("restarting",
                   "dead") for m in news):
            return False
        await self._wait_ready()
        return True

    async def _run(self, code: str, limit: float, store_history: bool, on_output: OnOutput | None) -> CellResult:
        channels = self._channels
        assert channels is not None
        collector = OutputCollector()
        started = time.monotonic()
        # The host begins the cell's watch on the chat's folder as the request arrives (CELL_MARK), before the kernel
        # sees it; stop_on_error=False: otherwise ipykernel aborts requests queued behind a failing (or interrupted) cell.
        try:
            msg_id = await channels.send("shell", "execute_request", {
                "code": code, "silent": False, "store_history": store_history, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": False}, metadata={CELL_MARK: True})
        except ChannelsClosed:  # shut down (or the host lost) between the cell's start and its sending
            msg_id, outcome = "", "lost"
        else:
            outcome = await self._read_until_idle(channels, msg_id, collector, started + limit, on_output)
        timed_out = outcome == "timeout"
        if timed_out:
            await self.interrupt()
            outcome = await self._read_until_idle(channels, msg_id, collector, time.monotonic() + INTERRUPT_GRACE,
                                                  on_output)
        if outcome == "idle":
            await self._read_reply(channels, msg_id, collector)
        if outcome == "lost":
            shut_down = self.kernel_id is None  # `shutdown` let it go: the host is fine
            if isinstance(self.host, KernelHosts) and self.kernel_id is not None:
                self.host.lost(self.kernel_id)
            await self._close_channels()
            if shut_down:
                collector.add_error("KernelShutdown", "the shell was shut down while this cell was running", [])
            else:
                collector.add_error("KernelHostLost", "the shell's host went away during this cell; the next cell "
                                    "starts a new shell", [])
            return collector.build(timed_out=timed_out, kernel_restarted=True, timeout=limit,
                                   duration=time.monotonic() - started)
        fate = await self._fate(channels, msg_id, went_idle=outcome == "idle")
        if (quota := fate.get("quota")) is not None:
            outcome = "dead"
            removed = ", ".join(quota.get("removed", []))
            collector.add_error("DiskQuota", f"the chat's files passed their quota of {quota.get('limit_mb')} MiB; the "
                                f"cell was stopped and the files it wrote were removed ({removed})", [])
        elif outcome == "dead":
            ended = fate.get("ended") or {}
            if ended.get("memory"):
                collector.add_error("MemoryLimit", "the cell used more than the kernel's memory and the kernel was "
                                    "stopped", [])
            else:
                collector.add_error("KernelDied", f"the kernel process exited with code {ended.get('exit_code')} "
                                    "during this cell", [])
        if outcome == "timeout":  # deaf to the interrupt: only a fresh kernel makes the shell usable again
            await self._restart_now()
        if restarted := outcome in ("dead", "timeout"):
            self._ready = False  # the host restarted it: the next cell waits for it to answer
        result = collector.build(timed_out=timed_out, kernel_restarted=restarted, timeout=limit,
                                 duration=time.monotonic() - started)
        result.files = [str(name) for name in fate.get("changed", [])] if store_history else []
        return result

    async def _read_until_idle(self, channels: Channels, msg_id: str, collector: OutputCollector, deadline: float,
                               on_output: OnOutput | None) -> Outcome:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            try:
                msg = await channels.receive("iopub", min(remaining, POLL_INTERVAL))
            except ChannelsClosed:
                return "lost"
            if msg is None:
                continue
            msg_type = msg.get("msg_type") or msg["header"].get("msg_type")
            content = msg.get("content", {})
            if msg_type == "status":
                state = content.get("execution_state")
                if state in ("restarting", "dead"):  # the host found the kernel dead (or stopped it): no idle comes
                    return "dead"
                if state == "idle" and msg["parent_header"].get("msg_id") == msg_id:
                    return "idle"
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue  # late output of an earlier, interrupted cell
            collector.feed(msg_type, content)
            if on_output is not None and msg_type == "stream":
                if live := collector.live(strip_ansi(str(content.get("text", "")))):
                    await on_output(live)

    async def _fate(self, channels: Channels, msg_id: str, *, went_idle: bool) -> dict[str, Any]:
        """What the host says of the ended cell (the files it changed, the quota, how the kernel ended). After the
        cell's idle status the host sends it on its own (CELL_END); a cell that did not go idle is ended over REST."""
        if went_idle:
            aside: list[dict[str, Any]] = []  # news that is not the cell's end: the next cell reads it
            deadline = time.monotonic() + END_WAIT
            try:
                while (remaining := deadline - time.monotonic()) > 0:
                    msg = await channels.receive("iopub", remaining)
                    if msg is None:
                        break
                    if msg["header"].get("msg_type") == CELL_END and msg["parent_header"].get("msg_id") == msg_id:
                        return dict(msg["content"])
                    aside.append(msg)
            except ChannelsClosed:
                pass
            finally:
                channels.put_back("iopub", aside)
            log.warning("the host did not end cell %s on its channels: asking it", msg_id)
        return await self.host.end_cell(self.user_id, self.chat_id)

    async def _read_reply(self, channels: Channels, msg_id: str, collector: OutputCollector) -> None:
        # Sent before the idle status, so normally already waiting; read so that the shell queue does not grow.
        deadline = time.monotonic() + 1.0
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = await channels.receive("shell", remaining)
            except ChannelsClosed:
                return
            if msg is None:
                return
            if msg["parent_header"].get("msg_id") == msg_id:
                collector.feed_reply(msg["content"])
                return

    async def _restart_now(self) -> None:
        if self.kernel_id is not None:
            try:
                await self.host.restart(self.kernel_id)
            except HostLost:
                await self._close_channels()
        self._ready = False

    async def interrupt(self) -> None:
        if self.kernel_id is not None and self._connected():
            try:
                await self.host.interrupt(self.kernel_id)
            except HostLost:
                pass

    async def restart(self) -> None:
        """A fresh namespace in the same kernel (the Reset shell button)."""
        if self._busy:
            await self.interrupt()
        async with self._lock:
            if self._connected():
                await self._restart_now()
            else:
                await self.start()

    async def detach(self) -> None:
        """This side lets go; the host keeps the kernel for a while, so the chat's next session finds it."""
        async with self._start_lock:
            await self._close_channels()

    async def shutdown(self) -> None:
        """The kernel itself stops."""
        async with self._start_lock:
            kernel_id, self.kernel_id = self.kernel_id, None
            await self._close_channels()
            if kernel_id is not None:
                try:
                    await self.host.shutdown(kernel_id)
                except HostLost:
                    pass

    async def _close_channels(self) -> None:
        channels, self._channels = self._channels, None
        self._ready = False
        if channels is not None:
            await channels.close()
