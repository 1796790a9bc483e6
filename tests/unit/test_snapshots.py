"""Restore from a snapshot, never by running cells on its own (the user may ask): a chat's sessions against real sandboxed kernels, each message
run as a cell (as the demo model runs a python block), the kernel shut down between sessions as a server restart
would. Plus the pure rules: which snapshot a restore may use, and which cells it must still replay."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from sqlmodel import select

from tests.kernels import TestHost, shared_client
from varro.chat.events import Event, ProgressChanged
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.db.models import Turn
from varro.kernels.snapshots import FOLDER, Snapshots, copy_snapshot
from varro.shell import StoredCell
from varro.shell.snapshots import best_turn, cells_to_replay, defined_names
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


def tool_output(turn: Turn) -> str:
    parts = [p for m in turn.content["assistant"]["messages"] for p in m["parts"]]
    return "\n".join(str(p["content"]) for p in parts if p["part_kind"] == "tool-return")


class Chat:
    """One chat, opened in sessions one after another (each a fresh kernel: nothing is kept between them)."""

    def __init__(self, store: Store, tmp_path: Path, kernel_host: TestHost) -> None:
        self.store, self.kernel_host = store, kernel_host
        self.deps = SessionDeps(model=message_as_code(), uploads=UploadStore(tmp_path / "uploads"),
                                host=shared_client(), cell_timeout_s=20)
        self.session: ChatSession | None = None
        self.notices: list[str] = []
        self.progress: list[str] = []  # the status line: "Restoring Python state… (detail)", then the cell

    async def open(self) -> ChatSession:
        if self.session is None:
            user = await self.store.users.ensure("tester")
            chats = self.store.chats.for_user(user.id)
            self.user_id, self.chat_id = user.id, (await chats.create()).id
        else:
            await self.session.close(keep_kernel=False)  # as a restart of every tier would: nothing kept running
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
        return tool_output((await self.shown())[-1])

    async def shown(self) -> list[Turn]:
        return await (await self.store.chats.for_user(self.user_id).turns(self.chat_id)).list()

    async def every_turn(self) -> list[Turn]:
        async with self.store.sessions() as s:
            return list(await s.exec(select(Turn).where(Turn.chat_id == self.chat_id)))

    async def edit(self, k: int, code: str) -> None:
        assert self.session is not None
        await self.session.edit(k, code)

    async def saved(self) -> Snapshots:
        """The chat's snapshots, once the one being saved after the last turn is written."""
        assert self.session is not None
        await self.session.shell.settle()
        return Snapshots(self.workdir)

    @property
    def workdir(self) -> Path:
        """The chat's folder on its kernel host."""
        return self.kernel_host.chat_folder(self.deps.host.space, self.user_id, self.chat_id)


@pytest.fixture
async def chat(store: Store, tmp_path: Path, kernel_host: TestHost) -> AsyncIterator[Chat]:
    chat = Chat(store, tmp_path, kernel_host)
    yield chat
    if chat.session is not None:
        await chat.session.close(keep_kernel=False)


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


async def test_what_a_snapshot_cannot_keep_is_offered_and_runs_only_when_asked(chat: Chat) -> None:
    await chat.open()
    await chat.run("import threading\nx = 41\nlock = threading.Lock()\nwith open('out.txt', 'w') as f:\n"
                   "    f.write('kept')\nsquares = (i * i for i in range(3))")
    await chat.run("y = x + 1\nlog = open('log.txt', 'a')")
    await chat.open()
    out = await chat.run("print(y, type(lock).__name__, f.closed, open('out.txt').read())")
    assert "42 lock True kept" in out, "dill kept the lock; the closed file came back closed, and was not reopened"
    assert chat.notices[1].startswith("The snapshot could not keep log, squares, so the shell came back without them."
                                      " Nothing ran again on its own: “Run these again” re-runs the 2 cells")
    assert "squares" not in await chat.run("print(sorted(globals()))"), "nothing ran again"
    assert chat.session is not None
    await chat.session.rerun_cells()
    assert "[0, 1, 4] 41" in await chat.run("print(list(squares), x)")
    assert "Ran 2 earlier cells again." in chat.notices


async def test_an_edit_restores_from_the_turn_before_it_and_a_switch_follows_the_branch(chat: Chat) -> None:
    await chat.open()
    await chat.run("import random\na = 1")
    await chat.run("a = 2")
    await chat.run("a = 3\nr = random.random()\nprint(r)")
    old = [t.id for t in await chat.shown()]
    assert (await chat.saved()).turns() == old, "a snapshot per turn, named by its id"
    await chat.edit(1, "print(a)")  # a new version of turn 1: the state is that after turn 0
    assert "1" in (await chat.run("r = random.random()\nprint(a, r)")).split()
    new = [t.id for t in await chat.shown()]
    assert new[0] == old[0] and not set(new[1:]) & set(old), "the old branch is kept, the new one has its own turns"
    new_r = (await chat.run("print(r)")).split()[-1]
    old_r = [t for t in await chat.every_turn() if t.id == old[2]][0]
    assert chat.session is not None and await chat.session.switch(1, 0)  # back to the first version of turn 1
    assert [t.id for t in await chat.shown()] == old
    out = await chat.run("print(a, r)")  # the kernel follows: the old branch's names, from its snapshot
    assert out.split()[-2:] == ["3", tool_output(old_r).split()[-1]]
    assert chat.notices[0] == "Restoring Python state from its last snapshot…"
    assert await chat.session.switch(1, 1)
    assert (await chat.run("print(a, r)")).split()[-2:] == ["1", new_r], "and back: the newer branch's own roll"


async def test_the_files_a_branch_wrote_follow_it(chat: Chat) -> None:
    """What the Files view lists and the next cell reads is the shown branch's: an edit takes back what the edited
    turns wrote, a switch brings the other branch's files again as its cells left them."""
    await chat.open()
    await chat.run("open('kept.txt', 'w').write('turn 0')")
    await chat.run("open('kept.txt', 'w').write('turn 1')\nopen('only-old.txt', 'w').write('old')")
    await chat.edit(1, "open('only-new.txt', 'w').write('new')")
    assert (chat.workdir / "kept.txt").read_text() == "turn 0", "the edited turn's write is taken back"
    assert not (chat.workdir / "only-old.txt").exists()
    assert (chat.workdir / "only-new.txt").read_text() == "new"
    assert chat.session is not None and await chat.session.switch(1, 0)
    assert (chat.workdir / "kept.txt").read_text() == "turn 1"
    assert (chat.workdir / "only-old.txt").read_text() == "old"
    assert not (chat.workdir / "only-new.txt").exists()
    listed = sorted(f.name for f in await chat.deps.host.files(chat.user_id, chat.chat_id))
    assert listed == ["kept.txt", "only-old.txt"], "the Files view lists the branch's files"
    assert "turn 1 old" in await chat.run("print(open('kept.txt').read(), open('only-old.txt').read())")
    assert await chat.session.switch(1, 1)
    assert "turn 0 new" in await chat.run("print(open('kept.txt').read(), open('only-new.txt').read())")


async def test_a_file_with_no_copy_stays_where_a_switch_would_take_it(chat: Chat) -> None:
    """Past the chat's copy cap a written file has no copy to come back from: a switch leaves it rather than lose it."""
    chat.deps = dataclasses.replace(chat.deps, uploads=UploadStore(chat.deps.uploads.root, max_bytes=0))
    await chat.open()
    await chat.run("a = 0")
    await chat.run("open('big.txt', 'w').write('no copy')")
    await chat.edit(1, "b = 1")
    assert (chat.workdir / "big.txt").read_text() == "no copy"


async def test_a_corrupt_snapshot_offers_the_cells_instead(chat: Chat) -> None:
    await chat.open()
    await chat.run("b = 'kept'")
    [turn] = await chat.shown()
    assert turn.id is not None
    (await chat.saved()).path(turn.id).write_bytes(b"not a pickle")
    await chat.open()
    assert "NameError" in await chat.run("print(b)")
    assert any(n.startswith("This chat's saved Python state could not be read, so the shell started empty.")
               for n in chat.notices)
    assert chat.session is not None
    await chat.session.rerun_cells()
    assert "kept" in await chat.run("print(b)")


async def test_no_snapshot_offers_every_cell(chat: Chat) -> None:
    await chat.open()
    await chat.run("c = 7")
    await chat.saved()
    shutil.rmtree(chat.workdir / FOLDER)
    await chat.open()
    assert "NameError" in await chat.run("print(c)")
    assert chat.notices == ["This chat's saved Python state had no snapshot to come back from, so the shell started "
                            "empty. Nothing ran again on its own: “Run these again” re-runs its 1 cell from these turns:"]
    assert chat.session is not None
    await chat.session.rerun_cells()
    assert "restoring: re-running cell 1 of 1" in chat.progress
    assert "7" in await chat.run("print(c)")


def test_best_snapshot_is_the_latest_of_the_shown_branch(tmp_path: Path) -> None:
    snapshots = Snapshots(tmp_path)
    (tmp_path / FOLDER).mkdir(parents=True)
    for tid in (10, 12, 15, 20):  # turn ids; 20 is a version of the turn at position 2 on another branch
        snapshots.path(tid).write_bytes(b"x")
    saved = snapshots.turns()  # what the host lists; the web side picks
    assert best_turn(saved, {10: 0, 12: 1, 15: 2}) == 15
    assert best_turn(saved, {10: 0, 12: 1, 20: 2}) == 20  # the other branch: its own snapshot
    assert best_turn(saved, {10: 0, 12: 1}) == 12  # turn 2 hidden (an edit at 2)
    assert best_turn(saved, {15: 2}) == 15 and best_turn(saved, {}) is None  # a shell reset: older ones don't count
    (tmp_path / ".snapshots" / "turn-3.pkl").write_bytes(b"by position, from before")
    snapshots.prune(keep=2)
    assert snapshots.turns() == [15, 20] and not (tmp_path / ".snapshots" / "turn-3.pkl").exists()


def test_defined_names() -> None:
    code = "import numpy as np, os.path\nfrom x import y as z\nx = 1\na, (b, c) = 2, (3, 4)\nfor i in []: pass\n" \
           "def f(): inner = 1\nclass K: pass\nwith open('f') as fh: pass\nif True:\n    late = 1"
    assert defined_names(code) == {"np", "os", "z", "x", "a", "b", "c", "i", "f", "K", "fh", "late"}
    assert defined_names("this is not python(") == set()
    assert defined_names("g = (i for i in range(3))\nsq = [j * j for j in range(3) if (k := j)]\nf = lambda n: n") == \
        {"g", "sq", "k", "f"}, "a comprehension's and a lambda's own names are not the cell's"


def test_cells_to_replay() -> None:
    cells = [StoredCell(0, "x = 1", None), StoredCell(0, "g = (i for i in [])", None), StoredCell(1, "y = 2", None),
             StoredCell(2, "z = x", None)]
    assert [c.code for c in cells_to_replay(cells, 1, ["g"])] == ["g = (i for i in [])", "z = x"]
    assert [c.code for c in cells_to_replay(cells, 2, [])] == []


def test_a_snapshot_is_copied_to_another_chat_never_through_a_link(tmp_path: Path) -> None:
    src, dst, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    (src / FOLDER).mkdir(parents=True)
    (src / FOLDER / "turn-3.pkl").write_bytes(b"names")
    assert copy_snapshot(src, 3, dst, 9)
    assert (dst / FOLDER / "turn-9.pkl").read_bytes() == b"names"
    assert Snapshots(dst).turns() == [9]
    assert not copy_snapshot(src, 4, dst, 10), "no snapshot of that turn"
    (other / FOLDER).mkdir(parents=True)
    (other / FOLDER / "turn-5.pkl").write_bytes(b"another chat's")
    planted = tmp_path / "planted"  # a kernel made its chat's .snapshots a link to another chat's
    planted.mkdir()
    (planted / ".snapshots").symlink_to(other / ".snapshots")
    assert not copy_snapshot(planted, 5, dst, 11), "nothing read through the link"
    assert not copy_snapshot(src, 3, planted, 12), "nothing written through it"
    assert sorted(p.name for p in (other / FOLDER).iterdir()) == ["turn-5.pkl"]
