"""One live chat: its model history, its shell, and the run of one turn at a time.

The session emits typed events to whatever sink is attached (a socket in `app`, a list in tests);
it knows nothing of HTML or websockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model

from varro.agent.images import sends_images
from varro.chat.cells import cells_of
from varro.chat.content import messages_of, meta_of
from varro.chat.errors import describe
from varro.chat.events import (
    Event,
    NodeStarted,
    Notice,
    PartStarted,
    ProgressChanged,
    ShellChanged,
    ShellWasReset,
    TurnFailed,
)
from varro.chat.history import as_users_own, closed
from varro.chat.inflight import InflightLog
from varro.chat.session_deps import Busy, OnEvent, Publish, Refused, Remote, SessionDeps, Sink, quote
from varro.chat.shell_state import SessionShell
from varro.chat.titles import Titler
from varro.chat.turn_run import TurnRun
from varro.chat.turn_steps import TurnSteps
from varro.db.crud import ChatTurns, UserChats
from varro.db.models import Turn
from varro.files import ChatFile
from varro.shell.remote import RemoteKernel
from varro.shell.result import CellResult

__all__ = ["Busy", "ChatSession", "OnEvent", "Publish", "Refused", "Remote", "SessionDeps", "Sink", "quote"]
log = logging.getLogger("varro.chat")


async def cancelled(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end. The cancel is sent again while it runs: under load a cancel that lands
    inside a database or Redis client's own clean-up was seen absorbed there, and the follower it ended read on for
    good."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)


class ChatSession(TurnSteps):
    def __init__(self, user_id: int, chat_id: int, turns: ChatTurns, deps: SessionDeps,
                 chats: UserChats | None = None) -> None:
        self.user_id = user_id
        self.chat_id = chat_id
        self.turns = turns
        self.deps = deps
        title_model = None if not deps.titles else deps.title_model or deps.model
        self.titler = Titler(chats, chat_id, title_model, self._emit, shares_provider=deps.title_model is None)
        self.history: list[ModelMessage] = []
        self.user_texts: dict[int, str] = {}  # turn index -> the user's message, to name turns in notices
        self.turn_ids: dict[int, int] = {}  # turn index -> the shown turn's id (snapshots are named by it)
        self.notices: list[tuple[Notice, int | None]] = []  # this turn's, stored with it, with the node they follow
        self.turn_count = 0
        self.host = deps.host
        self.shell = SessionShell(RemoteKernel(deps.host, user_id, chat_id, timeout=deps.cell_timeout_s), [])
        self.sink: Sink | None = None
        self.inflight = InflightLog()
        self.publish: Publish | None = None  # to other processes' tabs (varro/scale/runlog.py)
        self.remote: Remote | None = None  # the turn shown is running on another process, which Stop reaches
        self._task: asyncio.Task[None] | None = None
        self._run: TurnRun | None = None
        self.picked = ""  # the model last picked (a key of deps.models), for this and later turns; "": deps.model
        self.images = sends_images(deps.images, deps.model)  # turns False when the provider refuses one
        self._told_context = False  # the user hears once that old turns no longer reach the model
        self._sent: list[ModelMessage] | None = None  # the history the running turn sent (fitted to the window)
        self._by_hand = False  # the running turn is a cell the user runs by hand
        self._closing = False
        self._node = 0
        self.printed: list[str] = []  # what the running cell printed so far

    # -- loading -------------------------------------------------------------------------------

    async def load(self, resume: bool = True) -> list[Turn]:
        """Read the shown path's turns; the shell will restore their state when it is first needed (from the
        latest snapshot of this branch, else by replaying its cells). `resume=False` after a switch of versions:
        a kernel kept from the last session holds another branch's names."""
        stored = await self.turns.list()
        self.history = [m for t in stored for m in (as_users_own(messages_of(t.content)) if meta_of(t.content).get("by_hand")
                                                   else closed(messages_of(t.content)))]
        self.user_texts = {t.idx: t.user_text for t in stored}
        self.turn_ids = {t.idx: t.id for t in stored if t.id is not None}
        last = meta_of(stored[-1].content).get("model_label") if stored else None  # an edit goes on with its model
        self.picked = next((key for key, (label, _) in self.deps.models.items() if label == last), "")
        self.turn_count = stored[-1].idx + 1 if stored else 0
        since = max(await self.turns.shell_resets(), default=0)  # cells before a reset are not restored
        await self.shell.reset([c for t in stored if t.idx >= since for c in cells_of(t.idx, messages_of(t.content))],
                               fresh=not resume,
                               valid={t.id: t.idx for t in stored if t.idx >= since and t.id is not None})
        if resume:
            await self.shell.resume()  # the kernel of this chat's last session, if it was kept: nothing to re-run
        return stored

    async def switch(self, k: int, to: int) -> bool:
        """Show version `to` (from 0) of turn `k` and the branch below it; the model's history and the shell follow
        that branch (the next cell restores its state), and so do the files its cells wrote. False if there is no such
        version."""
        if self.busy:
            raise Busy("a reply is still being written")
        was = await self.turns.list()
        if not await self.turns.switch(k, to):
            return False
        await self._files_follow(was, await self.load(resume=False))
        await self._emit(ShellChanged(self.shell.status, self.shell.names))
        return True

    # -- running -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def attached(self, names: Sequence[str]) -> tuple[ChatFile, ...]:
        """The uploaded files a message names, as they are now; a name that is not there is refused."""
        if not names:
            return ()
        present = {f.name: f for f in await self.host.files(self.user_id, self.chat_id)}
        if missing := [n for n in names if n not in present]:
            raise Refused(f"the file {missing[0][:80]!r} is no longer in this chat: attach it again")
        return tuple(present[n] for n in names)

    def send(self, text: str, files: Sequence[ChatFile] = (), model: str = "") -> asyncio.Task[None]:
        """Start turn `turn_count` for `text` (with the uploaded `files`, see `attached`) as a task, so the socket
        stays free for `stop`; `model` (a key of `deps.models`) answers it and the turns after it."""
        task = self._start(self._turn(self.turn_count, text, files=tuple(files)))
        if model:  # once the turn is sure to start; it reads the model when its task first runs
            self.picked = model
        return task

    @property
    def model(self) -> Model:
        return self.deps.models[self.picked][1] if self.picked else self.deps.model

    def run_by_hand(self, code: str) -> asyncio.Task[None]:
        """Run `code` in the shell as the user's own cell: a turn of its own, stored and exported like any, that the
        chat's model does not answer and reads next turn as the user's message ("Run", "Edit & run")."""
        return self._start(self._turn(self.turn_count, f"```python\n{code}\n```", by_hand=code))

    def edit(self, k: int, text: str) -> asyncio.Task[None]:
        """Drop turns >= k and run `text` as the new turn k."""
        if not 0 <= k < self.turn_count:
            raise Refused(f"there is no turn {k} to edit")
        return self._start(self._edit(k, text))

    def reset_shell(self) -> asyncio.Task[None]:
        """Clear the shell's namespace, and record it so a later restore does not bring names back."""
        return self._start(self._reset_shell())

    async def _reset_shell(self) -> None:
        await self.turns.record_shell_reset(self.turn_count)
        await self.shell.reset([], fresh=True)
        await self._emit(ShellWasReset(self.turn_count))
        await self._emit(ShellChanged(self.shell.status, self.shell.names))

    def rerun_cells(self) -> asyncio.Task[None]:
        """Run the cells a restore offered rather than ran (the user pressed "Run these again")."""
        return self._start(self._rerun_cells())

    async def _rerun_cells(self) -> None:
        k = max(self.turn_count - 1, 0)  # what it says goes under the latest answer, where the offer was made

        async def progress(detail: str | None) -> None:
            if detail is not None:
                await self._emit(ProgressChanged(k, "restoring", detail))

        async def diverged(turns: list[int]) -> None:
            refs = tuple((t, quote(self.user_texts.get(t, ""))) for t in turns)
            await self._emit(Notice(k, "The shell differs from what these earlier answers showed:", refs))

        await self._emit(ShellChanged("busy"))
        ran = await self.shell.rerun(diverged, progress)
        if isinstance(ran, CellResult):
            said = ran.error or "The shell could not start."
        else:
            said = (f"Ran {ran} earlier cell{'s' if ran != 1 else ''} again." if ran else
                    "Nothing was waiting to run again: the shell already holds this chat's state.")
        await self._emit(Notice(k, said))
        await self._emit(ProgressChanged(k, "done"))
        await self._emit(ShellChanged(self.shell.status, self.shell.names))

    def _start(self, work: Any) -> asyncio.Task[None]:
        if self.busy:
            work.close()
            raise Busy("a reply is still being written")
        self._task = asyncio.create_task(self._guarded(work))
        return self._task

    async def _guarded(self, work: Any) -> None:
        """A bug must not leave the page stuck in "running": report it, unlock, and log it."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("turn failed in chat %s", self.chat_id)
            await self._emit(TurnFailed(self.turn_count, describe(exc)))
            await self._emit(ProgressChanged(self.turn_count, "done"))

    def follow(self, remote: Remote) -> None:
        """Show a turn another process runs as if it ran here, until it is stored; then the chat is this session's."""
        self.remote = remote

        async def following() -> None:
            try:
                await remote.follow(self)
            finally:
                self.remote = None

        self._task = asyncio.create_task(self._guarded(following()))

    async def relay(self, event: Event) -> None:
        """An event of the turn followed from another process: to the tab, and not published again."""
        await self._emit(event)

    async def stop(self) -> None:
        """Cancel the running turn; what it produced so far is kept and stored as `stopped`."""
        if self.remote is not None:
            await self.remote.stop()
            return
        if self._run is not None:
            self._run.cancel()
        await self.shell.interrupt()

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def finished(self) -> None:
        """Wait until no turn runs; unlike `wait`, cancelling this wait leaves the run alone."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def close(self, keep_kernel: bool = True) -> None:
        """End the session: stop the run, wait for it to be stored, and keep the kernel warm for a while (or shut it
        down: `keep_kernel=False`, as when the chat is deleted). A turn followed from another process goes on there."""
        if self.remote is not None and self._task is not None:
            await cancelled(self._task)
        else:
            self._closing = True  # a turn it stops is cut by the server going down, not stopped by the user
            await self.stop()
        await self.wait()
        self.titler.cancel()
        await self.shell.close(keep=keep_kernel)

    def catch_up(self, known: int) -> list[Event]:
        """The latest turn so far, for a tab whose page shows only the turns below `known`."""
        return self.inflight.snapshot(known)

    async def _emit(self, event: Event) -> None:
        if isinstance(event, NodeStarted):
            self._node = event.node  # a cell runs in the latest node: its tool step
        elif isinstance(event, PartStarted | TurnFailed):
            self.titler.output_started()  # the answer shows something: a new chat's title may follow it
        self.inflight.record(event)
        if self.publish is not None and self.remote is None:
            self.publish(event)
        sink = self.sink
        if sink is None:
            return
        try:
            await sink(event)
        except Exception:
            # The socket went away mid-run; the run goes on and is stored, the page reloads it.
            if self.sink is sink:
                self.sink = None
