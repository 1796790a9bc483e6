"""Property: whatever sequence of send, edit and stop a user makes, the stored turns stay consistent."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.kernels import shared_client
from varro.chat.content import messages_of
from varro.chat.session import Busy, ChatSession, SessionDeps
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.uploads import UploadStore

ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.text(alphabet="abc xyz", min_size=1, max_size=8)),
        st.tuples(st.just("edit"), st.integers(0, 6), st.text(alphabet="def", min_size=1, max_size=5)),
        st.tuples(st.just("stop"), st.floats(0, 0.03)),
    ),
    min_size=1,
    max_size=8,
)


async def words(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    for i in range(12):
        yield f"w{i} "
        await asyncio.sleep(0.002)


async def scenario(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/p.db")
        await migrate(engine)
        store = Store(make_sessions(engine))
        user = await store.users.ensure("p")
        chats = store.chats.for_user(user.id)
        chat = await chats.create()
        deps = SessionDeps(model=FunctionModel(stream_function=words), uploads=UploadStore(Path(tmp) / "u"),
                           host=shared_client())
        session = ChatSession(user.id, chat.id, await chats.turns(chat.id), deps)
        await session.load()
        expected: list[str] = []  # the user texts the database must hold, in order
        for step in steps:
            if step[0] == "send":
                session.send(step[1])
                expected.append(step[1])
            elif step[0] == "edit":
                try:
                    session.edit(step[1], step[2])
                except ValueError:
                    assert step[1] >= len(expected)
                    continue
                expected = expected[: step[1]] + [step[2]]
            else:
                session.send("to be stopped")
                expected.append("to be stopped")
                await asyncio.sleep(step[1])
                await session.stop()
            await session.wait()
            await check(session, expected)
            assert not session.busy
            try:
                session.send("x")  # and a send while another runs is refused, changing nothing
                session.send("y")
            except Busy:
                pass
            await session.wait()
            expected.append("x")
            await check(session, expected)
        await session.close()
        await engine.dispose()


async def check(session: ChatSession, expected: list[str]) -> None:
    turns = await session.turns.list()
    assert [t.idx for t in turns] == list(range(len(expected)))
    assert [t.user_text for t in turns] == expected
    assert session.turn_count == len(expected)
    for t in turns:
        assert t.status in ("complete", "stopped")
        msgs = messages_of(t.content)
        calls = {p.tool_call_id for m in msgs if isinstance(m, ModelResponse) for p in m.parts
                 if isinstance(p, ToolCallPart)}
        returns = {p.tool_call_id for m in msgs if isinstance(m, ModelRequest) for p in m.parts
                   if isinstance(p, ToolReturnPart)}
        assert calls <= returns, "no tool call is left without its result"
    user_prompts = sum(1 for m in session.history if isinstance(m, ModelRequest)
                       and any(p.part_kind == "user-prompt" for p in m.parts))
    assert user_prompts == len(expected), "the model history holds exactly the stored turns"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_any_sequence_keeps_turns_contiguous_and_complete(steps: list[tuple]) -> None:
    asyncio.run(scenario(steps))
