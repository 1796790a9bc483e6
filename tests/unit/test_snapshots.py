"""Restore from a snapshot, replay only as fallback: a chat's sessions against real sandboxed kernels, each message
run as a cell (as the demo model runs a python block), the kernel shut down between sessions as a server restart
would. Plus the pure rules: which snapshot a restore may use, and which cells it must still replay."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.kernels import shared_sandbox
from varro.chat.events import Event, ProgressChanged
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.shell import KernelShell, StoredCell
from varro.shell.snapshots import FOLDER, Snapshots, cells_to_replay, defined_names
from varro.uploads import UploadStore


def message_as_code() -> FunctionModel:
    """Run the user's message as the cell; after its result, answer with the result."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        last = messages[-1]
        if isinstance(last, ModelRequest) and (ret := next((p for p in last.parts if isinstance(p, ToolReturnPart)),
                                                           None)):
            yield ret.model_response_str()
            return
        code = str(next(p for p in last.parts if isinstance(p, UserPromptPart)).content)
        yield {0: DeltaToolCall(name="run_python", json_args=json.dumps({"code": code}), tool_call_id="c")}

    return FunctionModel(stream_function=stream)


class Chat:
    """One chat, opened in sessions one after another (each a fresh kernel: nothing is kept between them)."""

    def __init__(self, store: Store, tmp_path: Path) -> None:
        self.store, self.workdir = store, tmp_path / "kernel"
        self.deps = SessionDeps(model=message_as_code(), uploads=UploadStore(tmp_path / "uploads"),
                                make_kernel=lambda u, c: lambda: KernelShell(self.workdir, timeout=20,
                                                                             isolation=shared_sandbox()))
        self.session: ChatSession | None = None
        self.notices: list[str] = []
        self.progress: list[str] = []  # the status line: "Restoring Python state… (detail)", then the cell

    async def open(self) -> ChatSession:
        if self.session is None:
            user = await self.store.users.ensure("tester")
            chats = self.store.chats.for_user(user.id)
            self.user_id, self.chat_id = user.id, (await chats.create()).id
        else:
            await self.session.close()
        chats = self.store.chats.for_user(self.user_id)
        self.session = ChatSession(self.user_id, self.chat_id, await chats.turns(self.chat_id), self.deps)
        await self.session.load()
        self.notices, self.progress = [], []

        async def sink(event: Event) -> None:
            if type(event).__name__ == "Notice":
                self.notices.append(event.message)  # type: ignore[attr-defined]
            if isinstance(event, ProgressChanged) and event.state in ("restoring", "tool"):
                self.progress.append(f"{event.state}: {event.detail}")

        self.session.sink = sink
        return self.session

    async def run(self, code: str) -> str:
        assert self.session is not None
        await self.session.send(code)
        turns = await (await self.store.chats.for_user(self.user_id).turns(self.chat_id)).list()
        parts = [p for m in turns[-1].content["assistant"]["messages"] for p in m["parts"]]
        return "\n".join(str(p["content"]) for p in parts if p["part_kind"] == "tool-return")

    async def edit(self, k: int, code: str) -> None:
        assert self.session is not None
        await self.session.edit(k, code)

    async def saved(self) -> Snapshots:
        """The chat's snapshots, once the one being saved after the last turn is written."""
        assert self.session is not None
        await self.session.shell.settle()
        return Snapshots(self.workdir)


@pytest.fixture
async def chat(store: Store, tmp_path: Path) -> AsyncIterator[Chat]:
    chat = Chat(store, tmp_path)
    yield chat
    if chat.session is not None:
        await chat.session.close()


async def test_random_values_come_back_and_side_effects_do_not_repeat(chat: Chat) -> None:
    await chat.open()
    first = await chat.run("import random\nr = random.random()\nopen('log.txt', 'a').write('ran\\n')\nprint(r)")
    await chat.open()  # a fresh kernel, as after a server restart
    again = await chat.run("print(r)\nprint(open('log.txt').read().count('ran'))")
    assert first.split()[1] == again.split()[1]  # "[stdout] 0.123…": the same number, not a new roll
    assert again.split()[2] == "1"  # the cell that appended to the file did not run again
    assert chat.notices == ["Restoring Python state from its last snapshot…"]
    assert chat.progress == ["tool: run_python", "restoring: loading its snapshot", "tool: run_python"], \
        "the status line says a restore runs, then that the cell does"


async def test_names_that_cannot_be_pickled_are_replayed_from_their_cells(chat: Chat) -> None:
    await chat.open()
    await chat.run("import threading\nx = 41\nlock = threading.Lock()")
    await chat.run("y = x + 1")
    await chat.open()
    out = await chat.run("print(y, type(lock).__name__)")
    assert "42 lock" in out
    assert chat.notices[1] == "Could not restore lock from the snapshot; the cells that define them ran again."


async def test_an_edit_restores_from_the_turn_before_it(chat: Chat) -> None:
    await chat.open()
    await chat.run("a = 1")
    await chat.run("a = 2")
    await chat.run("a = 3")
    assert (await chat.saved()).turns() == [0, 1, 2]
    await chat.edit(1, "print(a)")  # turn 1 and 2 are gone: the state is that after turn 0
    assert (await chat.saved()).turns() == [0, 1]  # the new turn 1 saved its own
    out = await chat.run("print(a)")
    assert "1" in out.split()


async def test_a_corrupt_snapshot_falls_back_to_replay(chat: Chat) -> None:
    await chat.open()
    await chat.run("b = 'kept'")
    (await chat.saved()).path(0).write_bytes(b"not a pickle")
    await chat.open()
    out = await chat.run("print(b)")
    assert "kept" in out
    assert "The saved Python state could not be read; the earlier cells ran again instead." in chat.notices


async def test_no_snapshot_means_replay_as_before(chat: Chat) -> None:
    await chat.open()
    await chat.run("c = 7")
    await chat.saved()
    shutil.rmtree(chat.workdir / FOLDER)
    await chat.open()
    assert "7" in await chat.run("print(c)")
    assert chat.notices[0] == "Restoring Python state: re-running 1 earlier cell first."
    assert "restoring: re-running cell 1 of 1" in chat.progress


def test_best_snapshot_is_the_latest_still_valid(tmp_path: Path) -> None:
    snapshots = Snapshots(tmp_path)
    (tmp_path / FOLDER).mkdir()
    for k in (0, 2, 5):
        snapshots.path(k).write_bytes(b"x")
    assert snapshots.best(range(0, 6)) == 5
    assert snapshots.best(range(0, 5)) == 2  # turn 5 is gone (an edit at 5)
    assert snapshots.best(range(3, 5)) is None  # a shell reset at turn 3: older snapshots don't count
    snapshots.forget_from(2)
    assert snapshots.turns() == [0]


def test_defined_names() -> None:
    code = "import numpy as np, os.path\nfrom x import y as z\nx = 1\na, (b, c) = 2, (3, 4)\nfor i in []: pass\n" \
           "def f(): inner = 1\nclass K: pass\nwith open('f') as fh: pass\nif True:\n    late = 1"
    assert defined_names(code) == {"np", "os", "z", "x", "a", "b", "c", "i", "f", "K", "fh", "late"}
    assert defined_names("this is not python(") == set()


def test_cells_to_replay() -> None:
    cells = [StoredCell(0, "x = 1", None), StoredCell(0, "g = (i for i in [])", None), StoredCell(1, "y = 2", None),
             StoredCell(2, "z = x", None)]
    assert [c.code for c in cells_to_replay(cells, 1, ["g"])] == ["g = (i for i in [])", "z = x"]
    assert [c.code for c in cells_to_replay(cells, 2, [])] == []
