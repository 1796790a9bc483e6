"""Running one turn of a chat: the model's run with the shell as its tool, its cells, its history within the
context window, and storing what it did. The session (varro/chat/session.py) starts turns and owns their state;
this is what a turn does."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from functools import partial
from typing import Any

from pydantic_ai.exceptions import RunCancelled
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import Model

from varro.agent.by_hand import LABEL as BY_HAND_LABEL
from varro.agent.by_hand import MODEL_NAME as BY_HAND_MODEL
from varro.agent.by_hand import by_hand_model
from varro.agent.images import without_images
from varro.agent.tools import Deps
from varro.chat import branch_files
from varro.chat.cells import cells_of
from varro.chat.content import build_content, files_of
from varro.chat.context import FitRequests, fit
from varro.chat.errors import describe
from varro.chat.events import (
    CELL_OUTPUT,
    CellStarted,
    Event,
    Notice,
    PartDelta,
    ProgressChanged,
    ShellChanged,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStatus,
    TurnStored,
)
from varro.chat.history import as_users_own, closed, fences_closed, keep_printed
from varro.chat.session_deps import SessionDeps, quote
from varro.chat.shell_state import SessionShell
from varro.chat.stream import NodeStreamer
from varro.chat.titles import Titler
from varro.chat.turn_run import TurnRun
from varro.chat.usage import turn_usage
from varro.db.crud import ChatTurns
from varro.db.models import Turn, utcnow
from varro.files import ChatFile
from varro.shell import CellResult
from varro.shell.hosts import KernelHosts
from varro.shell.result import MAX_TEXT_CHARS

log = logging.getLogger("varro.chat")


class TurnSteps:
    """The steps of a turn, for `ChatSession` (which sets every attribute below in its constructor)."""

    user_id: int
    chat_id: int
    turns: ChatTurns
    deps: SessionDeps
    host: KernelHosts
    shell: SessionShell
    titler: Titler
    history: list[ModelMessage]
    user_texts: dict[int, str]
    turn_ids: dict[int, int]
    notices: list[tuple[Notice, int | None]]
    turn_count: int
    images: bool
    picked: str
    printed: list[str]
    _told_context: bool
    _sent: list[ModelMessage] | None
    _by_hand: bool
    _closing: bool
    _node: int
    _run: TurnRun | None

    @property
    def model(self) -> Model:
        raise NotImplementedError

    async def _emit(self, event: Event) -> None:
        raise NotImplementedError

    async def load(self, resume: bool = True) -> list[Turn]:
        raise NotImplementedError

    async def _edit(self, k: int, text: str) -> None:
        # The edited message keeps the files it came with (still in the working directory, if code left them).
        was = await self.turns.list()
        edited = next((t for t in was if t.idx == k), None)
        names = [f.name for f in files_of(edited.content)] if edited is not None else []
        present = {f.name: f for f in await self.host.files(self.user_id, self.chat_id)} if names else {}
        kept = tuple(present[n] for n in names if n in present)
        # One transaction adds the new version of turn k and shows it: turns k.. of the old branch stay stored, out of
        # the shown path (a crash leaves the old branch shown or the new one).
        ts = utcnow()
        begun = await self.turns.begin(k, text, self._started_content(text, ts, kept))
        # The finished turns before k: the shell restores to the end of turn k - 1, the files go back to it too.
        await self._files_follow(was, await self.load(resume=False))
        versions = None
        if begun.id is not None:
            self.turn_ids[k] = begun.id
            versions = (await self.turns.versions(k, k + 1)).get(begun.id)
        await self._turn(k, text, replaces=True, files=kept, ts=ts, versions=versions)

    async def _files_follow(self, was: list[Turn], shown: list[Turn]) -> None:
        """The chat's folder follows the path now shown (varro/chat/branch_files.py); no kernel runs meanwhile."""
        await branch_files.follow_path(was, shown, self.host, self.deps.uploads, self.user_id, self.chat_id)

    def _started_content(self, text: str, ts: datetime, files: tuple[ChatFile, ...]) -> dict[str, Any]:
        """What a turn holds while it is answered: the user's words and files (what a crash then leaves)."""
        return build_content(text, ts, [ModelRequest(parts=[UserPromptPart(text, timestamp=ts)])], {},
                             {"model": self.deps.model_name(self.model)}, files)

    async def _run_cell(self, turn: int, code: str) -> CellResult:
        async def notice(text: str) -> None:  # what a restore did: kept with the turn
            kept = Notice(turn, text)
            self.notices.append((kept, self._node))
            await self._emit(kept)

        async def offer(text: str, turns: tuple[int, ...]) -> None:  # cells a restore did not run: the user may
            # Turns have no numbers on the page: name them by the start of their message.
            refs = tuple((t, quote(self.user_texts.get(t, ""))) for t in turns)
            kept = Notice(turn, text, refs, offer=True)
            self.notices.append((kept, self._node))
            await self._emit(kept)

        async def progress(detail: str | None) -> None:  # the status line while a restore runs, then the cell's
            await self._emit(ProgressChanged(turn, "restoring", detail) if detail is not None
                             else ProgressChanged(turn, "tool", "run_python"))

        if (restoring := await self.shell.restore_note()) is not None:
            await self._emit(Notice(turn, restoring))  # while it happens; not stored
        await self._emit(ShellChanged("busy"))
        node, self.printed = self._node, []
        await self._emit(CellStarted(turn, node, time.time()))

        async def output(text: str) -> None:  # live, coalesced like text; kept in case the cell is stopped
            if sum(map(len, self.printed)) < MAX_TEXT_CHARS:
                self.printed.append(text)
            await self._emit(PartDelta(turn, node, CELL_OUTPUT, text))

        try:
            # What the cell wrote in the chat's folder comes back in `result.files`, offered as downloads.
            return await self.shell.run(code, notice, offer, progress, output)
        finally:
            await self._emit(ShellChanged(self.shell.status, self.shell.names))

    async def _turn(self, k: int, text: str, replaces: bool = False, files: tuple[ChatFile, ...] = (),
                    ts: datetime | None = None, versions: tuple[int, int] | None = None,
                    by_hand: str | None = None) -> None:
        """Turn k for the user's `text`; with `by_hand`, that code runs in the shell as the user's own cell (the
        chat's model does not answer it: agent/by_hand.py)."""
        started = time.monotonic()
        if ts is None:  # a new turn (an edit stored its own): the user's words are kept before anything else
            ts = utcnow()
            begun = await self.turns.begin(k, text, self._started_content(text, ts, files))
            if begun.id is not None:
                self.turn_ids[k] = begun.id
        self.notices, self.printed = [], []
        await self._emit(TurnStarted(k, text, replaces, files, versions))
        self.titler.answer_started()
        # The model reads what was attached with the message; the page shows the message and the files' chips.
        prompt = f"{text}\n\n{await self.host.for_model(self.user_id, self.chat_id, list(files))}" if files else text
        if k == 0:
            self.titler.first_message(text)
        deps = Deps(
            run_cell=partial(self._run_cell, k),
            save_image=partial(self.deps.uploads.save, self.user_id, self.chat_id),
            save_file=partial(self.deps.uploads.save_file, self.deps.host, self.user_id, self.chat_id),
            user_id=self.user_id,
            chat_id=self.chat_id,
            images_to_model=self.images,
        )
        status: TurnStatus = "complete"
        error: str | None = None
        cut = False
        self._sent = None
        self._by_hand = by_hand is not None
        window, scale = self.deps.context_tokens, self.deps.scale_of(self.model)
        fitting = FitRequests(window, self.deps.max_tokens, scale) if window is not None and by_hand is None else None
        model = by_hand_model(by_hand) if by_hand is not None else self.model
        turn = self._run = TurnRun(self.deps.agent, model, self.deps.model_settings, deps,
                                   self.deps.model_requests,
                                   NodeStreamer(k, self._emit, self.deps.first_event_s, model.model_name), fitting)
        try:
            self._sent = [] if by_hand is not None else await self._model_history(k, prompt, fitting)
            await turn.go(prompt, self._sent, partial(self._images_refused, k))
            messages, usage = turn.new_messages(), turn.usage
        except RunCancelled as exc:
            status, messages, usage = "stopped", turn.new_messages(exc.new_messages()), turn.usage
            cut = self._closing
        except asyncio.CancelledError as exc:
            # The session is closing (server shutdown): keep what was produced, then let the cancel through.
            rc = RunCancelled.from_cancellation(exc)
            messages = turn.new_messages(rc.new_messages() if rc else None)
            await self._finish(k, text, ts, started, "stopped", messages, deps, turn.usage, files=files, cut=True)
            raise
        except Exception as exc:
            log.warning("turn %s of chat %s failed", k, self.chat_id, exc_info=True)
            status, error = "error", describe(exc)
            messages, usage = turn.new_messages(), turn.usage
        finally:
            self._run = None
        if error:
            await self._emit(TurnFailed(k, error))
        await self._finish(k, text, ts, started, status, messages, deps, usage, error, files, cut)

    async def _model_history(self, k: int, text: str, fitting: FitRequests | None) -> list[ModelMessage]:
        """The history the model is sent: without images if it reads none, and within its context window (the
        message counted by the provider where it can)."""
        history = self.history if self.images else without_images(self.history)
        if (window := self.deps.context_tokens) is None or fitting is None:
            return history
        scale = fitting.scale
        if (counted := await scale.count(text)) is not None:
            fitting.exact[len(text)] = counted
        kept, dropped = fit(history, text, window, self.deps.max_tokens, scale, counted)
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
        cut: bool = False,
    ) -> None:
        # A turn stopped (or failed) before its run began has no messages; keep the user's words in the history
        # anyway, as the page keeps them, so the model is not told a different conversation.
        # Before `closed`, which may drop a failed response; counted against what was sent, on the provider's scale.
        scale = self.deps.scale_of(self.model)
        sent_history = self._sent if self._sent is not None else self.history
        counted = turn_usage(sent_history, messages, scale.overhead, scale.of)
        sent = bool(messages)  # none: refused before anything reached the model (too long for its window)
        messages = closed(messages) or [ModelRequest(parts=[UserPromptPart(text, timestamp=ts)])]
        if status != "complete":
            messages = fences_closed(messages)
        if status == "stopped":
            messages = keep_printed(messages, "".join(self.printed))
        meta: dict[str, Any] = {
            "model": self.deps.model_name(self.model),
            "duration_ms": round((time.monotonic() - started) * 1000),
            "usage": counted if usage is not None or counted["output_tokens"] else {},
        }
        if self.picked:  # shown instead of the model's name
            meta["model_label"] = self.deps.models[self.picked][0]
        if self._by_hand:  # the user's own cell: no model answered it, and no model's usage
            meta.update(model=BY_HAND_MODEL, model_label=BY_HAND_LABEL, by_hand=True, usage={})
        if error:
            meta["error"] = error
        if cut:  # by the server going down, not by the user: the page says so
            meta["cut"] = True
        if self.notices:  # kept with the turn, so a reload shows them where the live page did
            meta["notices"] = [{"message": n.message, "refs": [list(r) for r in n.refs], "node": node,
                                **({"offer": True} if n.offer else {})} for n, node in self.notices]
        content = build_content(text, ts, messages, deps.attachments, meta, files)
        await self.turns.finish(k, content, status)
        self.history.extend(as_users_own(messages, ts) if self._by_hand else messages)
        self.user_texts[k] = text
        self.turn_count = k + 1
        if cells := cells_of(k, messages):
            self.shell.record(cells)
            if (turn_id := self.turn_ids.get(k)) is not None:
                self.shell.snapshot_after(turn_id, k)  # a later restore starts from here, not from the first cell
        await self._emit(ProgressChanged(k, "done"))
        await self._emit(TurnFinished(k, status, meta))
        if self.deps.on_event is not None:
            stored = TurnStored(self.user_id, self.chat_id, k, status, text, messages, meta)
            try:
                await self.deps.on_event(stored)
            except Exception:  # the host's bug must not stop the chat; its traceback is the host's to read
                log.exception("the host's on_event hook failed for turn %s of chat %s", k, self.chat_id)
        self.titler.answer_finished(status == "complete", sent)
