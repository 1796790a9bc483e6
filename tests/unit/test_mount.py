"""Two host apps in one process: one mounts the chat at /assistant with its own tool, instructions and hook,
the other at the default /chat. Each answers only under its own prefix, with its own agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fasthtml.common import FastHTML
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ToolCallPart
from starlette.testclient import TestClient

from app.mount import mount_chat
from tests.security.client import turn_statuses
from tests.unit.test_routes import BROWSER
from ui.core import chat_headers
from varro.agent.agent import chat_agent
from varro.chat.events import TurnStored
from varro.config import Settings

ORIGIN = {"origin": "http://testserver"}
WEATHER = "You also answer questions about the weather, with the forecast tool."


def settings(root: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{root / 'db.sqlite'}", uploads_dir=root / "up",
                    kernels_dir=root / "k", demo_tps=0, secret_key="test-secret")


class Host:
    """A host app with the weather tool at /assistant; what its tool and hook saw."""

    def __init__(self, root: Path) -> None:
        self.calls: list[str] = []
        self.stored: list[TurnStored] = []

        def forecast(city: str) -> str:
            """The weather to come in a city."""
            self.calls.append(city)
            return f"Sunny in {city}"

        async def on_event(event: TurnStored) -> None:
            self.stored.append(event)

        self.app = FastHTML(default_hdrs=False, hdrs=chat_headers("/assistant/static"), secret_key="test-secret",
                            key_fname=str(root / "key"))
        mount_chat(self.app, settings(root), prefix="/assistant", on_event=on_event,
                   agent=chat_agent(WEATHER, tools=[forecast]))


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[Host, TestClient, TestClient]]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    host = Host(tmp_path / "a")
    plain = FastHTML(default_hdrs=False, hdrs=chat_headers(), secret_key="test-secret", key_fname=str(tmp_path / "kb"))
    mount_chat(plain, settings(tmp_path / "b"))
    with TestClient(host.app, headers=BROWSER) as a, TestClient(plain, headers=BROWSER) as b:
        yield host, a, b


def open_chat(client: TestClient, prefix: str) -> int:
    resp = client.get(prefix, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith(f"{prefix}/")
    return int(resp.headers["location"].rsplit("/", 1)[1])


def run_turn(client: TestClient, prefix: str, chat: int, msg: str) -> str:
    """Send `msg` on the chat's socket and read frames until turn 0 is stored; everything that came."""
    frames = []
    with client.websocket_connect(f"{prefix}/ws?chat_id={chat}", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"action": "hello", "known": 0}))
        ws.send_text(json.dumps({"action": "send", "msg": msg}))
        while 0 not in turn_statuses(frames[-1] if frames else ""):
            frames.append(ws.receive_text())
    return "".join(frames)


def test_each_app_answers_under_its_own_prefix_only(apps: tuple[Host, TestClient, TestClient]) -> None:
    _, a, b = apps
    chat = open_chat(a, "/assistant")
    page = a.get(f"/assistant/{chat}").text
    for link in [f'ws-connect="/assistant/ws?chat_id={chat}"', "/assistant/static/vendor/htmx.min.js",
                 f"/assistant/{chat}/export.md", f"/assistant/{chat}/rename", "/assistant/new"]:
        assert link in page
    assert "/chat/" not in page
    assert a.get("/assistant/static/js/chat.js").status_code == 200
    assert a.get("/chat").status_code == 404 and a.get("/chat/static/js/chat.js").status_code == 404
    assert "content-security-policy" in a.get(f"/assistant/{chat}").headers

    other = open_chat(b, "/chat")
    assert f'ws-connect="/chat/ws?chat_id={other}"' in b.get(f"/chat/{other}").text
    assert b.get("/assistant").status_code == 404


def test_the_hosts_tool_instructions_and_hook_serve_its_app_alone(apps: tuple[Host, TestClient, TestClient]) -> None:
    host, a, b = apps
    chat = open_chat(a, "/assistant")
    frames = run_turn(a, "/assistant", chat, "Ask forecast for Oslo")
    assert host.calls == ["Oslo"]
    assert "Sunny in Oslo" in frames and "forecast" in frames
    assert "Sunny in Oslo" in a.get(f"/assistant/{chat}/export.md").text

    [stored] = host.stored
    assert (stored.chat_id, stored.turn, stored.status, stored.user_text) == (chat, 0, "complete", "Ask forecast for Oslo")
    first = stored.messages[0]
    assert isinstance(first, ModelRequest) and WEATHER in (first.instructions or "")
    assert any(isinstance(p, ToolCallPart) and p.tool_name == "forecast" for m in stored.messages for p in m.parts)
    assert stored.meta["model"] == "demo"

    other = open_chat(b, "/chat")
    frames = run_turn(b, "/chat", other, "Ask forecast for Oslo")
    assert host.calls == ["Oslo"] and "Sunny in" not in frames, "the default app has no weather tool"
    assert len(host.stored) == 1


def test_an_agent_without_the_shell_is_refused(tmp_path: Path) -> None:
    app = FastHTML(default_hdrs=False, secret_key="test-secret")
    with pytest.raises(ValueError, match="run_python"):
        mount_chat(app, settings(tmp_path), agent=Agent(instructions="no shell"))


@pytest.mark.parametrize("prefix", ["", "/", "chat", "/chat/", "/a b", "/chat/../x"])
def test_a_malformed_prefix_is_refused(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        mount_chat(FastHTML(default_hdrs=False, secret_key="test-secret"), settings(tmp_path), prefix=prefix)
