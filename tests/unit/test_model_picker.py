"""The model picker (VARRO_MODELS): the list operators write, the frame's choice, and the turn it answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fasthtml.common import to_xml
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.unit.sessions import collecting_session
from ui.turns import TurnMeta
from varro.agent.choices import ModelChoice, parse_models
from varro.agent.models import resolve_model
from varro.chat.content import messages_of, meta_of
from varro.chat.protocol import Invalid, Send, parse_frame
from varro.chat.session import ChatSession
from varro.config import Settings
from varro.db.crud import Store


def test_the_list_keeps_its_order_and_labels_and_always_offers_the_default() -> None:
    assert parse_models("demo=Demo (offline), openai:gpt-4o-mini=GPT-4o mini", "demo") == [
        ModelChoice("demo", "Demo (offline)"), ModelChoice("openai:gpt-4o-mini", "GPT-4o mini")]
    # no label: the model string is shown; the default comes first when not listed; a repeat keeps its first label
    assert parse_models("openai:gpt-4o,,openai:gpt-4o=Again", "demo") == [
        ModelChoice("demo", "demo model (offline)"), ModelChoice("openai:gpt-4o", "openai:gpt-4o")]
    assert parse_models("", "anthropic:claude-sonnet-4-5") == [
        ModelChoice("anthropic:claude-sonnet-4-5", "anthropic:claude-sonnet-4-5")]


def test_settings_read_the_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VARRO_MODEL", "demo:slow")
    monkeypatch.setenv("VARRO_MODELS", "demo=Quick,demo:slow=Slow")
    assert [c.label for c in Settings().model_choices] == ["Quick", "Slow"]
    assert resolve_model("demo:slow", 0).model_name == "slow"  # a second offline model, under its own name


def frame(**data: object) -> str:
    return json.dumps({"action": "send", "msg": "hi", **data})


def test_a_send_may_pick_only_an_offered_model() -> None:
    offered = {"demo", "openai:gpt-4o-mini"}
    assert parse_frame(frame(model="openai:gpt-4o-mini"), 100, offered) == Send(msg="hi", model="openai:gpt-4o-mini")
    assert parse_frame(frame(), 100, offered) == Send(msg="hi")
    refused = parse_frame(frame(model="openai:gpt-5-pro"), 100, offered)
    assert isinstance(refused, Invalid) and "'openai:gpt-5-pro' is not offered here" in refused.reason
    assert refused.keep_draft  # the message itself was fine: the page gives it back
    assert isinstance(parse_frame(frame(model="demo"), 100), Invalid)  # no list configured: no choice to make
    assert isinstance(parse_frame(frame(model=["demo"]), 100, offered), Invalid)


def named(name: str) -> FunctionModel:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield f"answered by {name}"

    return FunctionModel(stream_function=stream, model_name=name)


async def test_the_picked_model_answers_this_turn_and_the_next(store: Store, tmp_path: Path) -> None:
    first, second = named("first"), named("second")
    models = {"x:first": ("First model", first), "x:second": ("Second model", second)}
    session, _ = await collecting_session(store, tmp_path, first, models=models)
    await session.send("a")
    await session.send("b", model="x:second")
    await session.send("c")  # no choice: the one picked last goes on
    stored = await session.turns.list()
    answers = [messages_of(t.content)[-1].parts[0].content for t in stored]
    assert answers == ["answered by first", "answered by second", "answered by second"]
    metas = [meta_of(t.content) for t in stored]
    assert [(m["model"], m.get("model_label")) for m in metas] == [
        ("first", None), ("second", "Second model"), ("second", "Second model")]
    line = to_xml(TurnMeta(1, "complete", metas[1]))
    assert ">Second model · " in line and ">second · " not in line
    await session.close(keep_kernel=False)
    # A later session (a reload, a restart) goes on with the chat's last model, for a turn (or an edit) naming none.
    again = ChatSession(session.user_id, session.chat_id, session.turns, session.deps)
    await again.load()
    await again.send("d")
    assert messages_of((await again.turns.list())[3].content)[-1].parts[0].content == "answered by second"
    await again.close(keep_kernel=False)
