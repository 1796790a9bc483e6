"""One live chat: its model history, its shell, and the run of one turn at a time.

The session emits typed events to whatever sink is attached (a socket in `app`, a list in tests);
it knows nothing of HTML or websockets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from pydantic_ai.exceptions import RunCancelled
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from varro import files as chat_files
from varro.agent.agent import ChatAgent, agent
from varro.agent.images import ImagesMode, sends_images, without_images
from varro.agent.tools import Deps
from varro.chat.cells import cells_of
from varro.chat.content import attachments_of, build_content, files_of, messages_of, meta_of
from varro.chat.context import fit
from varro.chat.errors import describe
from varro.chat.events import (
    CELL_OUTPUT,
    CellStarted,
    Event,
    NodeStarted,
    Notice,
    PartDelta,
    ProgressChanged,
    ShellChanged,
    ShellWasReset,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStatus,
    TurnStored,
)
from varro.chat.history import closed, keep_printed
from varro.chat.inflight import InflightLog
from varro.chat.shell_state import KernelFactory, SessionShell
from varro.chat.stream import NodeStreamer
from varro.chat.titles import Titler
from varro.chat.turn_run import TurnRun
from varro.chat.usage import turn_usage
from varro.db.crud import ChatTurns, UserChats
from varro.db.models import Turn, utcnow
from varro.files import ChatFile
from varro.shell import CellResult
from varro.shell.keeper import KernelKeeper
from varro.shell.pool import KernelPool
from varro.shell.result import MAX_TEXT_CHARS
from varro.uploads import UploadStore

Sink = Callable[[Event], Awaitable[None]]
OnEvent = Callable[[TurnStored], Awaitable[None]]
log = logging.getLogger("varro.chat")


class Remote(Protocol):
    """A turn of this chat running on another process (varro/chat/remote.py)."""

    async def stop(self) -> None: ...

    async def follow(self, session: ChatSession) -> None: ...


class Publish(Protocol):
    """Where the session's events go for other processes (varro/scale/runlog.py `Publisher`)."""

    def __call__(self, event: Event) -> None: ...

    async def flushed(self) -> None: ...


class Busy(Exception):
    """A turn is already running in this session."""


@dataclass(frozen=True)
class SessionDeps:
    """What a session needs from the app, made once in the lifespan."""

    model: Model
    uploads: UploadStore
    make_kernel: Callable[[int, int], KernelFactory]
    model_settings: ModelSettings | None = None  # timeouts (varro.agent.models.request_settings)
    keeper: KernelKeeper | None = None  # kernels kept between a chat's sessions
    pool: KernelPool | None = None  # kernels started before they are needed
    # a host's own (varro.agent.agent.chat_agent), with `run_python` and its tools
    agent: ChatAgent = field(default_factory=lambda: agent)
    on_event: OnEvent | None = None  # the host's hook, awaited once each turn is stored
    images: ImagesMode = "auto"  # VARRO_MODEL_IMAGES (varro.agent.images)
    context_tokens: int | None = None  # VARRO_CONTEXT_TOKENS (varro.chat.context)
    max_tokens: int | None = None  # VARRO_MODEL_MAX_TOKENS: room kept for the answer
    model_requests: int = 20  # VARRO_MODEL_REQUESTS: model requests per answer, tool steps included
    titles: bool = True  # VARRO_TITLE_MODEL=off: quick titles only
    title_model: Model | None = None  # VARRO_TITLE_MODEL: a model of its own; None: the chat's, after its answer
    # a chat's working directory (user, chat), where uploads go; by default the kernel's own
    workdir_of: Callable[[int, int], Path] | None = None
    # VARRO_MODELS: the models a turn may pick, by their string, with their labels; `model` answers otherwise
    models: Mapping[str, tuple[str, Model]] = field(default_factory=dict)


def quote(text: str, limit: int = 40) -> str:
    """The start of a message, on one line, as a notice names its turn."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class ChatSession:
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
        self.notices: list[Notice] = []  # this turn's, stored with it
        self.turn_count = 0
        self.shell = SessionShell(deps.make_kernel(user_id, chat_id), [], deps.keeper, (user_id, chat_id), deps.pool)
        self.sink: Sink | None = None
        self.inflight = InflightLog()
        self.publish: Publish | None = None  # to other processes' tabs (varro/scale/runlog.py)
        self.remote: Remote | None = None  # the turn shown is running on another process, which Stop reaches
        self._task: asyncio.Task[None] | None = None
        self._run: TurnRun | None = None
        self.picked = ""  # the model last picked (a key of deps.models), for this and later turns; "": deps.model
        self.images = sends_images(deps.images, deps.model)  # turns False when the provider refuses one
        self._told_context = False  # the user hears once that old turns no longer reach the model
        self._node = 0
        self.printed: list[str] = []  # what the running cell printed so far

    # -- loading -------------------------------------------------------------------------------

    async def load(self) -> list[Turn]:
        """Read the stored turns; the shell will replay their cells when it is first needed."""
        stored = await self.turns.list()
        self.history = [m for t in stored for m in closed(messages_of(t.content))]
        self.user_texts = {t.idx: t.user_text for t in stored}
        last = meta_of(stored[-1].content).get("model_label") if stored else None  # an edit goes on with its model
        self.picked = next((key for key, (label, _) in self.deps.models.items() if label == last), "")
        self.turn_count = stored[-1].idx + 1 if stored else 0
        since = max(await self.turns.shell_resets(), default=0)  # cells before a reset are not restored
        await self.shell.reset([c for t in stored if t.idx >= since for c in cells_of(t.idx, messages_of(t.content))],
                               valid=range(since, self.turn_count))
        self.shell.resume()  # the kernel of this chat's last session, if it was kept: nothing to re-run
        return stored

    # -- running -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def workdir(self) -> Path:
        if self.deps.workdir_of is not None:
            return self.deps.workdir_of(self.user_id, self.chat_id)
        return self.shell.snapshots.workdir

    def attached(self, names: Sequence[str]) -> tuple[ChatFile, ...]:
        """The uploaded files a message names, as they are now; a name that is not there is refused."""
        found = [(n, chat_files.describe(self.workdir, n)) for n in names]
        if missing := [n for n, f in found if f is None]:
            raise ValueError(f"the file {missing[0][:80]!r} is no longer in this chat: attach it again")
        return tuple(f for _, f in found if f is not None)

    def send(self, text: str, file_names: Sequence[str] = (), model: str = "") -> asyncio.Task[None]:
        """Start turn `turn_count` for `text` (with the uploaded files it names) as a task, so the socket stays
        free for `stop`; `model` (a key of `deps.models`) answers it and the turns after it."""
        attached = self.attached(file_names)
        task = self._start(self._turn(self.turn_count, text, files=attached))
        if model:  # once the turn is sure to start; it reads the model when its task first runs
            self.picked = model
        return task

    @property
    def model(self) -> Model:
        return self.deps.models[self.picked][1] if self.picked else self.deps.model

    def edit(self, k: int, text: str) -> asyncio.Task[None]:
        """Drop turns >= k and run `text` as the new turn k."""
        if not 0 <= k < self.turn_count:
            raise ValueError(f"there is no turn {k} to edit")
        return self._start(self._edit(k, text))

    def reset_shell(self) -> asyncio.Task[None]:
        """Clear the shell's namespace, and record it so a later restore does not bring names back."""
        return self._start(self._reset_shell())

    async def _reset_shell(self) -> None:
        await self.turns.record_shell_reset(self.turn_count)
        await self.shell.reset([], valid=range(self.turn_count, self.turn_count))
        await self._emit(ShellWasReset(self.turn_count))
        await self._emit(ShellChanged(self.shell.status))

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
            self._task.cancel()
        else:
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

    async def _edit(self, k: int, text: str) -> None:
        # The edited message keeps the files it came with (still in the working directory, if code left them).
        edited = next(iter(await self.turns.list(start=k, stop=k + 1)), None)
        names = [f.name for f in files_of(edited.content)] if edited is not None else []
        kept = tuple(f for n in names if (f := chat_files.describe(self.workdir, n)) is not None)
        # One transaction replaces turns k.. with the new message (a crash leaves the old turns or the new one).
        ts = utcnow()
        await self.turns.begin(k, text, self._started_content(text, ts, kept))
        self.shell.forget_snapshots_from(k)
        remaining = await self.load()  # the finished turns before k
        keep = {a.path for t in remaining for atts in attachments_of(t.content).values() for a in atts}
        await asyncio.to_thread(self.deps.uploads.collect, self.user_id, self.chat_id, keep)
        await self._turn(k, text, replaces=True, files=kept, ts=ts)

    def _started_content(self, text: str, ts: datetime, files: tuple[ChatFile, ...]) -> dict[str, Any]:
        """What a turn holds while it is answered: the user's words and files (what a crash then leaves)."""
        return build_content(text, ts, [ModelRequest(parts=[UserPromptPart(text, timestamp=ts)])], {},
                             {"model": self.model.model_name}, files)

    async def _run_cell(self, turn: int, code: str) -> CellResult:
        async def diverged(turns: list[int]) -> None:
            # Turns have no numbers on the page: name them by the start of their message.
            refs = tuple((t, quote(self.user_texts.get(t, ""))) for t in turns)
            notice = Notice(turn, "The restored shell differs from what these earlier answers showed:", refs)
            self.notices.append(notice)
            await self._emit(notice)

        async def notice(text: str) -> None:  # what a restore could not bring back: kept with the turn
            kept = Notice(turn, text)
            self.notices.append(kept)
            await self._emit(kept)

        async def progress(detail: str | None) -> None:  # the status line while a restore runs, then the cell's
            await self._emit(ProgressChanged(turn, "restoring", detail) if detail is not None
                             else ProgressChanged(turn, "tool", "run_python"))

        if (restoring := self.shell.restore_note()) is not None:
            await self._emit(Notice(turn, restoring))  # while it happens; not stored
        await self._emit(ShellChanged("busy"))
        node, self.printed = self._node, []
        before: list[chat_files.Listing] = []  # set once the cell is about to run (it may never: no sandbox)

        async def ready() -> None:  # after any restore: files its replayed cells rewrote are not this cell's
            before.append(await asyncio.to_thread(chat_files.listing, self.workdir))

        await self._emit(CellStarted(turn, node, time.time()))

        async def output(text: str) -> None:  # live, coalesced like text; kept in case the cell is stopped
            if sum(map(len, self.printed)) < MAX_TEXT_CHARS:
                self.printed.append(text)
            await self._emit(PartDelta(turn, node, CELL_OUTPUT, text))

        try:
            result = await self.shell.run(code, diverged, notice, progress, output, ready)
        finally:
            await self._emit(ShellChanged(self.shell.status))
        # What the cell wrote in the working directory is offered as downloads under its result.
        if before:
            result.files = chat_files.changed(before[0], await asyncio.to_thread(chat_files.listing, self.workdir))
        return result

    async def _turn(self, k: int, text: str, replaces: bool = False, files: tuple[ChatFile, ...] = (),
                    ts: datetime | None = None) -> None:
        started = time.monotonic()
        if ts is None:  # a new turn (an edit stored its own): the user's words are kept before anything else
            ts = utcnow()
            await self.turns.begin(k, text, self._started_content(text, ts, files))
        self.notices, self.printed = [], []
        await self._emit(TurnStarted(k, text, replaces, files))
        self.titler.answer_started()
        # The model reads what was attached with the message; the page shows the message and the files' chips.
        prompt = f"{text}\n\n{chat_files.for_model(self.workdir, list(files))}" if files else text
        if k == 0:
            self.titler.first_message(text)
        deps = Deps(
            run_cell=partial(self._run_cell, k),
            save_image=partial(self.deps.uploads.save, self.user_id, self.chat_id),
            # the folder looked up when a file is saved: a session whose code never runs needs none
            save_file=lambda name: self.deps.uploads.save_file(self.user_id, self.chat_id, self.workdir, name),
            user_id=self.user_id,
            chat_id=self.chat_id,
            images_to_model=self.images,
        )
        status: TurnStatus = "complete"
        error: str | None = None
        turn = self._run = TurnRun(self.deps.agent, self.model, self.deps.model_settings, deps,
                                   self.deps.model_requests, NodeStreamer(k, self._emit))
        try:
            await turn.go(prompt, await self._model_history(k, prompt), partial(self._images_refused, k))
            messages, usage = turn.new_messages(), turn.usage
        except RunCancelled as exc:
            status, messages, usage = "stopped", turn.new_messages(exc.new_messages()), turn.usage
        except asyncio.CancelledError as exc:
            # The session is closing (server shutdown): keep what was produced, then let the cancel through.
            rc = RunCancelled.from_cancellation(exc)
            messages = turn.new_messages(rc.new_messages() if rc else None)
            await self._finish(k, text, ts, started, "stopped", messages, deps, turn.usage, files=files)
            raise
        except Exception as exc:
            log.warning("turn %s of chat %s failed", k, self.chat_id, exc_info=True)
            status, error = "error", describe(exc)
            messages, usage = turn.new_messages(), turn.usage
        finally:
            self._run = None
        if error:
            await self._emit(TurnFailed(k, error))
        await self._finish(k, text, ts, started, status, messages, deps, usage, error, files)

    async def _model_history(self, k: int, text: str) -> list[ModelMessage]:
        """The history the model is sent: without images if it reads none, and within its context window."""
        history = self.history if self.images else without_images(self.history)
        if (window := self.deps.context_tokens) is None:
            return history
        kept, dropped = fit(history, text, window, self.deps.max_tokens)
        if dropped and not self._told_context:
            self._told_context = True
            await self._emit(Notice(k, f"This chat no longer fits the model's context window ({window} tokens): its "
                                       "oldest turns are left out of what the model reads. They stay on this page."))
        return kept

    async def _images_refused(self, k: int) -> None:
        """The provider cannot read images: from now on this chat sends none, and the user is told once."""
        self.images = False
        await self._emit(Notice(k, "This model does not read images: the figure was not sent to it, and from now "
                                   "on this chat sends it text only."))

    async def _finish(
        self,
        k: int,
        text: str,
        ts: datetime,
        started: float,
        status: TurnStatus,
        messages: list[ModelMessage],
        deps: Deps,
        usage: Any,
        error: str | None = None,
        files: tuple[ChatFile, ...] = (),
    ) -> None:
        # A turn stopped (or failed) before its run began has no messages; keep the user's words in the history
        # anyway, as the page keeps them, so the model is not told a different conversation.
        counted = turn_usage(self.history, messages)  # before `closed`, which may drop a failed response
        messages = closed(messages) or [ModelRequest(parts=[UserPromptPart(text, timestamp=ts)])]
        if status == "stopped":
            messages = keep_printed(messages, "".join(self.printed))
        meta: dict[str, Any] = {
            "model": self.model.model_name,
            "duration_ms": round((time.monotonic() - started) * 1000),
            "usage": counted if usage is not None or counted["output_tokens"] else {},
        }
        if self.picked:  # shown instead of the model's name
            meta["model_label"] = self.deps.models[self.picked][0]
        if error:
            meta["error"] = error
        if self.notices:  # kept with the turn, so a reload shows them where the live page did
            meta["notices"] = [{"message": n.message, "refs": [list(r) for r in n.refs]} for n in self.notices]
        content = build_content(text, ts, messages, deps.attachments, meta, files)
        await self.turns.finish(k, content, status)
        self.history.extend(messages)
        self.user_texts[k] = text
        self.turn_count = k + 1
        if cells := cells_of(k, messages):
            self.shell.record(cells)
            self.shell.snapshot_after(k)  # a later restore starts from here, not from the first cell
        await self._emit(ProgressChanged(k, "done"))
        await self._emit(TurnFinished(k, status, meta))
        if self.deps.on_event is not None:
            stored = TurnStored(self.user_id, self.chat_id, k, status, text, messages, meta)
            try:
                await self.deps.on_event(stored)
            except Exception:  # the host's bug must not stop the chat; its traceback is the host's to read
                log.exception("the host's on_event hook failed for turn %s of chat %s", k, self.chat_id)
        self.titler.answer_finished()
