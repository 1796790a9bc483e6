"""A figure in the chat on a text-only server: the refused request is retried once without images, the user is told,
and the chat goes on working (before, every later message failed the same way)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import models
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.fakes.openai_server import carries_image, recorded, run_fake_openai
from tests.unit.sessions import collecting_session, fake_provider_model
from varro.agent.images import sends_images
from varro.chat.events import Event, Notice, TurnFailed
from varro.chat.session import ChatSession
from varro.db.crud import Store
from varro.shell import CellResult
from varro.shell.result import Image

# The smallest valid PNG: one transparent pixel.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
FIGURE = "TEXT_ONLY please plot:\n```python\nplt.plot([1, 2]); plt.show()\n```"


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_fake_openai(log=tmp_path_factory.mktemp("images") / "fake.log") as base:
        yield base


async def open_session(store: Store, tmp_path: Path, fake: str, images: str = "auto") -> tuple[ChatSession, list[Event]]:
    s, events = await collecting_session(store, tmp_path, fake_provider_model(fake), images=images)

    async def draw(code: str) -> CellResult:  # the shell, drawing a figure
        return CellResult(stdout="drawn", images=[Image(data=PNG, media_type="image/png")])

    s._run_cell = lambda k, code: draw(code)  # type: ignore[method-assign]
    return s, events


@pytest.fixture
def allow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # the provider is the loopback fake


async def test_a_figure_on_a_text_only_server_is_retried_without_it(store: Store, tmp_path: Path, fake: str,
                                                                   allow: None) -> None:
    s, events = await open_session(store, tmp_path, fake)
    assert s.images, "an openai: model is believed to read images until its server says otherwise"
    await s.send(FIGURE)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert not [e for e in events if isinstance(e, TurnFailed)], events
    assert any("does not read images" in n for n in notices)
    [turn] = await s.turns.list()
    assert turn.status == "complete"
    # Told once; the next messages go without the figure and are answered.
    await s.send("TEXT_ONLY and now a question")
    await s.send("TEXT_ONLY one more")
    assert [t.status for t in await s.turns.list()] == ["complete", "complete", "complete"]
    assert sum("does not read images" in e.message for e in events if isinstance(e, Notice)) == 1
    mine = [b for b in recorded(fake) if "TEXT_ONLY" in str(b["messages"])]
    assert [carries_image(b) for b in mine[-2:]] == [False, False]
    await s.close()


async def test_images_off_never_sends_a_figure(store: Store, tmp_path: Path, fake: str, allow: None) -> None:
    s, events = await open_session(store, tmp_path, fake, images="off")
    await s.send(FIGURE.replace("TEXT_ONLY", "NO_IMAGES"))
    assert not any(isinstance(e, Notice) for e in events)
    assert not any(carries_image(b) for b in recorded(fake) if "NO_IMAGES" in str(b["messages"]))
    assert [t.status for t in await s.turns.list()] == ["complete"]
    await s.close()


def test_the_setting_decides() -> None:
    model = OpenAIChatModel("m", provider=OpenAIProvider(base_url="http://127.0.0.1:9/v1", api_key="k"))
    assert sends_images("auto", model) and sends_images("on", model) and not sends_images("off", model)
