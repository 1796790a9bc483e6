"""A chat session for unit tests, with its events collected, on a FunctionModel or on the loopback fake provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.kernels import shared_client
from varro.agent.models import request_settings
from varro.chat.events import Event
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.uploads import UploadStore


def fake_provider_model(base_url: str) -> OpenAIChatModel:
    """The real OpenAI client path, pointed at `tests.fakes.openai_server` (set ALLOW_MODEL_REQUESTS for it)."""
    return OpenAIChatModel("fake-model", provider=OpenAIProvider(base_url=base_url, api_key="test-key"))


async def collecting_session(store: Store, tmp_path: Path, model: Model, with_chats: bool = False,
                             **deps: Any) -> tuple[ChatSession, list[Event]]:
    """A session on a new chat with no kernel (tests stand in for `_run_cell`); `with_chats` lets it title the chat."""
    user = await store.users.ensure("u")
    chats = store.chats.for_user(user.id)
    chat = await chats.create()
    deps.setdefault("model_settings", request_settings(10))
    deps.setdefault("first_event_s", 10)
    deps.setdefault("host", shared_client())
    session_deps = SessionDeps(model, UploadStore(tmp_path / "uploads"), **deps)
    s = ChatSession(user.id, chat.id, await chats.turns(chat.id), session_deps, chats if with_chats else None)
    events: list[Event] = []

    async def sink(event: Event) -> None:
        events.append(event)

    s.sink = sink
    return s, events
