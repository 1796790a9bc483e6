"""A chat session's run with FunctionModel scripts: events, persistence, history, errors, stop."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fasthtml.common import to_xml
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.kernels import TestHost, shared_client
from tests.unit.sessions import collecting_session
from tests.waits import until
from ui.turns import TurnMeta
from varro.chat.content import answer_markdown, messages_of, meta_of
from varro.chat.events import (
    Event,
    Notice,
    PartDelta,
    PartStarted,
    ProgressChanged,
    ResponseFinished,
    ToolsFinished,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from varro.chat.session import Busy, ChatSession, SessionDeps
from varro.db.crud import Store
from varro.uploads import UploadStore

Script = FunctionModel


def tool_then_text(seen: list[list[ModelMessage]]) -> FunctionModel:
    """First response calls run_python; once its result is back, answer in text quoting it."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        seen.append(list(messages))
        last = messages[-1]
        if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
            ret = next(p for p in last.parts if isinstance(p, ToolReturnPart))
            for word in ["The ", "shell ", "said: ", ret.model_response_str()]:
                yield word
            return
        prompt = next(p for p in last.parts if isinstance(p, UserPromptPart)).content
        code = json.dumps({"code": f"x = {len(str(prompt))}\nprint(x + 1)"})
        yield {0: DeltaToolCall(name="run_python", json_args=code[:10], tool_call_id="call-1")}
        yield {0: DeltaToolCall(json_args=code[10:])}

    return FunctionModel(stream_function=stream, model_name="script")


async def make_session(store: Store, tmp_path: Path, model: FunctionModel) -> tuple[ChatSession, list[Event]]:
    user = await store.users.ensure("tester")
    chats = store.chats.for_user(user.id)
    chat = await chats.create()
    deps = SessionDeps(
        model=model,
        uploads=UploadStore(tmp_path / "uploads"),
        host=shared_client(), cell_timeout_s=10,
    )
    session = ChatSession(user.id, chat.id, await chats.turns(chat.id), deps)
    await session.load()
    events: list[Event] = []

    async def sink(event: Event) -> None:
        events.append(event)

    session.sink = sink
    return session, events


@pytest.fixture
async def closing() -> AsyncIterator[list[ChatSession]]:
    sessions: list[ChatSession] = []
    yield sessions
    for s in sessions:
        await s.close()


async def test_tool_turn_streams_persists_and_continues(store: Store, tmp_path: Path, closing: list) -> None:
    seen: list[list[ModelMessage]] = []
    session, events = await make_session(store, tmp_path, tool_then_text(seen))
    closing.append(session)
    await session.send("hello")
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "TurnStarted" and kinds[-1] == "TurnFinished"
    finished = [e for e in events if isinstance(e, ResponseFinished | ToolsFinished)]
    assert [(type(e).__name__, e.node) for e in finished] == [
        ("ResponseFinished", 0), ("ToolsFinished", 1), ("ResponseFinished", 2)]
    assert any(isinstance(e, PartDelta) for e in events), "tool arguments stream as deltas"
    tool_result = next(e for e in events if isinstance(e, ToolsFinished)).request.parts[0]
    assert "6" in tool_result.model_response_str()  # len("hello") + 1

    stored = await session.turns.list()
    assert [(t.idx, t.status) for t in stored] == [(0, "complete")]
    assert len(messages_of(stored[0].content)) == 4

    await session.send("again")
    assert [t.idx for t in await session.turns.list()] == [0, 1]
    second_run_first_request = seen[2]
    texts = [p.content for m in second_run_first_request if isinstance(m, ModelRequest) for p in m.parts
             if isinstance(p, UserPromptPart)]
    assert texts == ["hello", "again"], "the second turn is sent with the first turn's history"


async def test_provider_error_mid_stream_keeps_earlier_turns(store: Store, tmp_path: Path, closing: list) -> None:
    calls = {"n": 0}

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        calls["n"] += 1
        yield "partial "
        if calls["n"] == 2:
            raise ConnectionResetError("provider went away")
        yield "answer"

    session, events = await make_session(store, tmp_path, FunctionModel(stream_function=stream))
    closing.append(session)
    await session.send("one")
    await session.send("two")
    failed = [e for e in events if isinstance(e, TurnFailed)]
    assert len(failed) == 1 and failed[0].turn == 1
    stored = await session.turns.list()
    assert [(t.idx, t.status, t.user_text) for t in stored] == [(0, "complete", "one"), (1, "error", "two")]
    assert [e.status for e in events if isinstance(e, TurnFinished)] == ["complete", "error"]
    await session.send("three")  # the session is still usable after the error
    assert (await session.turns.list())[-1].status == "complete"


async def test_stop_keeps_the_partial_answer(store: Store, tmp_path: Path, closing: list) -> None:
    async def slow(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for i in range(1000):
            yield f"word{i} "
            await asyncio.sleep(0.005)

    session, events = await make_session(store, tmp_path, FunctionModel(stream_function=slow))
    closing.append(session)
    task = session.send("go on and on")
    while sum(isinstance(e, PartDelta) for e in events) < 5:
        await asyncio.sleep(0.01)
    with pytest.raises(Busy):
        session.send("overlapping")
    await session.stop()
    await task
    stored = (await session.turns.list())[0]
    assert stored.status == "stopped"
    text = messages_of(stored.content)[-1].parts[0].content
    assert text.startswith("word0 word1 word2") and "word999" not in text
    assert not session.busy


async def test_edit_truncates_and_regenerates(store: Store, tmp_path: Path, closing: list) -> None:
    async def echo(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        prompts = [p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts
                   if isinstance(p, UserPromptPart)]
        yield f"seen {len(prompts)}: {' | '.join(map(str, prompts))}"

    session, events = await make_session(store, tmp_path, FunctionModel(stream_function=echo))
    closing.append(session)
    for text in ["a", "b", "c"]:
        await session.send(text)
    events.clear()
    await session.edit(1, "B")
    stored = await session.turns.list()
    assert [(t.idx, t.user_text) for t in stored] == [(0, "a"), (1, "B")]
    assert messages_of(stored[1].content)[-1].parts[0].content == "seen 2: a | B"
    assert isinstance(events[0], TurnStarted) and events[0].replaces and events[0].turn == 1
    with pytest.raises(ValueError):
        session.edit(5, "no such turn")


async def test_live_part_starts_carry_their_first_text(store: Store, tmp_path: Path, closing: list) -> None:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "Hel"
        yield "lo"

    session, events = await make_session(store, tmp_path, FunctionModel(stream_function=stream))
    closing.append(session)
    await session.send("hi")
    start = next(e for e in events if isinstance(e, PartStarted))
    deltas = "".join(e.text for e in events if isinstance(e, PartDelta))
    assert (start.kind, start.content + deltas) == ("text", "Hello")


def run_code_then_stop(code: str) -> FunctionModel:
    """Call run_python with `code`; after the result, say "ok"."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        last = messages[-1]
        if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
            yield "ok"
            return
        yield {0: DeltaToolCall(name="run_python", json_args=json.dumps({"code": code}), tool_call_id="c")}

    return FunctionModel(stream_function=stream)


async def test_a_restore_offers_the_cells_it_cannot_bring_back_and_runs_them_when_asked(
        store: Store, tmp_path: Path, closing: list, kernel_host: TestHost) -> None:
    model = run_code_then_stop("import random\nprint(random.random())")
    first, _ = await make_session(store, tmp_path, model)
    await first.send("roll")
    await first.close()
    # Its kernel ended on the host (culled, say) ...
    kernel_id = await first.host.kernel_of(first.user_id, first.chat_id)
    assert kernel_id is not None
    await first.host.shutdown(kernel_id)
    # ... and without its snapshot (tests/unit/test_snapshots.py has that path), nothing brings the cell's names back.
    folder = kernel_host.chat_folder(first.host.space, first.user_id, first.chat_id)
    shutil.rmtree(folder / ".snapshots")

    again = ChatSession(first.user_id, first.chat_id, first.turns, first.deps)
    closing.append(again)
    await again.load()
    events: list[Event] = []

    async def sink(event: Event) -> None:
        events.append(event)

    again.sink = sink
    await again.send("roll again")
    notices = [e for e in events if isinstance(e, Notice)]
    # Nothing ran again on its own: the earlier cell is offered, naming its turn as the page shows it.
    assert [(n.offer, n.refs) for n in notices] == [(True, ((0, "roll"),))]
    assert "no snapshot" in notices[0].message and "“Run these again” re-runs its 1 cell" in notices[0].message
    stored = (await again.turns.list())[-1]
    assert stored.content["meta"]["notices"] == [{"message": notices[0].message, "refs": [[0, "roll"]], "node": 1,
                                                  "offer": True}]
    events.clear()
    await again.rerun_cells()  # the user pressed "Run these again": the cell runs, and its new number differs
    said = [n.message for n in events if isinstance(n, Notice)]
    assert said == ["The shell differs from what these earlier answers showed:", "Ran 1 earlier cell again."]
    assert [e.detail for e in events if isinstance(e, ProgressChanged) and e.state == "restoring"] == [
        "re-running cell 1 of 1"]
    events.clear()
    await again.rerun_cells()  # pressed again: nothing is waiting
    assert [n.message for n in events if isinstance(n, Notice)] == [
        "Nothing was waiting to run again: the shell already holds this chat's state."]


async def test_a_spinning_cell_does_not_stall_another_session(store: Store, tmp_path: Path, closing: list) -> None:
    spinner, _ = await make_session(store, tmp_path, run_code_then_stop("while True: pass"))

    async def steady(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for i in range(60):
            yield f"t{i} "
            await asyncio.sleep(0.01)

    streamer, events = await make_session(store, tmp_path / "b", FunctionModel(stream_function=steady))
    closing.extend([spinner, streamer])
    spinning = spinner.send("spin")
    await until(lambda: spinner.shell.status == "busy", "the kernel to run the spinning cell", within_s=60)
    stamps: list[float] = []

    async def timed(event: Event) -> None:
        if isinstance(event, PartDelta):
            stamps.append(asyncio.get_running_loop().time())

    streamer.sink = timed
    await streamer.send("talk")
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(stamps) >= 50 and max(gaps) < 0.25, max(gaps)
    assert not spinning.done(), "the spinning cell was still running while the other session streamed"
    await spinner.stop()
    await spinning


async def test_a_shell_reset_is_recorded_and_survives_a_restore(store: Store, tmp_path: Path, closing: list) -> None:
    first, _ = await make_session(store, tmp_path, run_code_then_stop("forgotten = 1"))
    await first.send("define")
    await first.reset_shell()
    assert await first.turns.shell_resets() == [1]
    await first.close()

    again = ChatSession(first.user_id, first.chat_id, first.turns, first.deps)
    again.deps = SessionDeps(model=run_code_then_stop("print('forgotten' in globals())"), uploads=first.deps.uploads,
                             host=first.deps.host, cell_timeout_s=10)
    closing.append(again)
    await again.load()
    await again.send("check")
    ret = messages_of((await again.turns.list())[1].content)[2].parts[0]
    assert "False" in ret.model_response_str(), "the restore replays only cells after the reset"
    await again.edit(0, "go back before the reset")
    assert await again.turns.shell_resets() == [], "an edit before the reset discards it"


async def test_a_turn_is_labelled_with_the_name_the_provider_serves(store: Store, tmp_path: Path, closing: list) -> None:
    async def echo(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "hi"

    model = FunctionModel(stream_function=echo, model_name="asked-for")
    session, events = await collecting_session(store, tmp_path, model, served={"asked-for": "really-served.gguf"})
    closing.append(session)
    await session.send("hello")
    await session.wait()
    [finished] = [e for e in events if isinstance(e, TurnFinished)]
    assert finished.meta["model"] == "really-served.gguf"
    [turn] = await session.turns.list()
    assert meta_of(turn.content)["model"] == "really-served.gguf"


async def test_an_answer_cut_by_the_server_going_down_is_marked_and_its_code_block_closed(
        store: Store, tmp_path: Path) -> None:
    """Shutdown mid-answer, inside a code block: the stored answer says the server cut it (not the user's stop),
    and its open block is closed, so Copy, export and the model's next read get valid markdown."""
    gate = asyncio.Event()

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "Here is the code:\n\n```python\nfor i in range(3):\n"
        yield "    print(i)\n"
        await gate.wait()  # the server goes down here
        yield "```\n"

    session, events = await collecting_session(store, tmp_path, FunctionModel(stream_function=stream))
    session.send("Write a loop")
    await until(lambda: sum(isinstance(e, PartDelta) for e in events) >= 1, "the answer streams")
    await session.close()
    [turn] = await session.turns.list()
    assert turn.status == "stopped" and meta_of(turn.content).get("cut") is True
    text = answer_markdown(messages_of(turn.content), 0)
    assert text is not None and text.rstrip().endswith("print(i)\n```") and text.count("```") == 2
    html = to_xml(TurnMeta(0, turn.status, meta_of(turn.content)))
    assert "Cut off" in html and "Stopped" not in html


async def test_a_users_stop_mid_code_block_is_stopped_with_the_block_closed(store: Store, tmp_path: Path) -> None:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "```python\nx = 1\n"
        await asyncio.sleep(30)
        yield "```"

    session, events = await collecting_session(store, tmp_path, FunctionModel(stream_function=stream))
    task = session.send("Write code")
    await until(lambda: any(isinstance(e, PartStarted | PartDelta) for e in events), "the answer streams")
    await session.stop()
    await task
    [turn] = await session.turns.list()
    assert turn.status == "stopped" and "cut" not in meta_of(turn.content)
    assert answer_markdown(messages_of(turn.content), 0) == "```python\nx = 1\n```"
    html = to_xml(TurnMeta(0, turn.status, meta_of(turn.content)))
    assert "Stopped" in html and "Cut off" not in html
