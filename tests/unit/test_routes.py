"""The routes as a host app mounts them: login is the host's, ownership is ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fasthtml.common import FastHTML
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.mount import mount_chat
from tests.kernels import TestHost
from ui.core import chat_headers
from varro.config import Settings

ORIGIN = {"origin": "http://testserver"}
BROWSER = {"sec-fetch-site": "same-origin"}  # what a browser says of a request from our own page (app/csrf.py)


def host_app(tmp_path: Path, **overrides: Any) -> FastHTML:
    """A minimal host: it owns login (here: /login/{name}) and mounts the chat."""
    settings = Settings(**{"database_url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", "uploads_dir": tmp_path / "up",
                           "kernels_dir": tmp_path / "k", "demo_user": None, **overrides})
    app = FastHTML(default_hdrs=False, hdrs=chat_headers(), secret_key="test-secret", key_fname=str(tmp_path / "k"))
    mount_chat(app, settings)

    @app.route("/login/{name}")
    async def login(req, sess, name: str) -> str:  # noqa: ANN001
        user = await req.app.state.varro.store.users.ensure(name)
        sess["user_id"] = user.id
        return f"signed in as {user.id}"

    return app


@pytest.fixture
def app(tmp_path: Path) -> FastHTML:
    return host_app(tmp_path)


def new_chat(client: TestClient) -> int:
    resp = client.post("/chat/new", follow_redirects=False)
    assert resp.status_code == 303
    return int(resp.headers["location"].rsplit("/", 1)[1])


def test_signed_out_visitors_are_refused(app: FastHTML) -> None:
    with TestClient(app, headers=BROWSER) as anon:
        assert anon.get("/chat").status_code == 401
        assert anon.post("/chat/new").status_code == 401


def test_chat_page_renders_for_its_owner(clients: tuple[TestClient, TestClient]) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    page = alice.get(f"/chat/{chat}")
    assert page.status_code == 200
    for marker in ['id="chat-turns"', 'id="chat-input"', f'ws-connect="/chat/ws?chat_id={chat}"',
                   'data-testid="new-chat"', 'data-testid="chat-menu"', "/chat/static/vendor/htmx.min.js"]:
        assert marker in page.text
    assert "cdn" not in page.text.lower()


def test_rename_and_history(clients: tuple[TestClient, TestClient]) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    assert "Groceries" in alice.post(f"/chat/{chat}/rename", data={"title": "Groceries"}).text
    history = alice.get(f"/chat/history?current={chat}").text
    assert "Groceries" in history and 'aria-current="page"' in history


def test_new_chat_reuses_an_empty_one(clients: tuple[TestClient, TestClient]) -> None:
    alice, _ = clients
    assert new_chat(alice) == new_chat(alice)


def test_every_route_hides_another_users_chat(clients: tuple[TestClient, TestClient]) -> None:
    alice, bob = clients
    chat = new_chat(alice)
    alice.post(f"/chat/{chat}/rename", data={"title": "Alice's secret plans"})
    for method, path in [("get", f"/chat/{chat}"), ("post", f"/chat/{chat}/rename"), ("post", f"/chat/{chat}/delete")]:
        resp = bob.post(path, data={"title": "pwned"}) if method == "post" else bob.get(path)
        assert resp.status_code == 404, (method, path)
        assert "secret plans" not in resp.text
    assert "secret plans" not in bob.get("/chat/history").text
    assert "Alice's secret plans" in alice.get(f"/chat/{chat}").text


def test_delete_removes_the_chat_and_its_files(app: FastHTML, clients: tuple[TestClient, TestClient],
                                               kernel_host: TestHost) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    workdir = kernel_host.chat_folder(app.state.varro.settings.kernel_space, 1, chat)  # on the chat's kernel host
    (workdir / "sub").mkdir(parents=True)
    (workdir / "sub" / "result.csv").write_text("a,b\n1,2\n")
    uploads = Path(app.state.varro.settings.uploads_dir) / "1" / str(chat)
    uploads.mkdir(parents=True)
    (uploads / "fig.png").write_bytes(b"png")
    assert alice.post(f"/chat/{chat}/delete", follow_redirects=False).status_code == 303
    assert alice.get(f"/chat/{chat}").status_code == 404
    assert not workdir.exists() and not uploads.exists()


def test_uploads_are_served_to_their_owner_only(app: FastHTML, clients: tuple[TestClient, TestClient]) -> None:
    alice, bob = clients
    chat = new_chat(alice)
    state = app.state.varro
    root = Path(state.settings.uploads_dir)
    owner_dir = root / "1" / str(chat)
    owner_dir.mkdir(parents=True)
    (owner_dir / "abc.png").write_bytes(b"\x89PNG fake")
    (root / "secret.txt").write_text("server secret")
    ok = alice.get(f"/chat/uploads/1/{chat}/abc.png")
    assert ok.status_code == 200 and ok.content == b"\x89PNG fake"
    assert ok.headers["x-content-type-options"] == "nosniff"
    for path in [f"1/{chat}/abc.png", f"1/{chat}/missing.png", "secret.txt", f"1/{chat}/../../secret.txt",
                 "1/%2e%2e/secret.txt", f"2/{chat}/abc.png"]:
        resp = bob.get(f"/chat/uploads/{path}")
        assert resp.status_code == 404, path
        assert b"PNG" not in resp.content and b"secret" not in resp.content
    assert alice.get("/chat/uploads/1/../secret.txt").status_code == 404


def test_websocket_refuses_other_origins(clients: tuple[TestClient, TestClient]) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    for headers in [{"origin": "http://evil.example"}, {"origin": "null"}, {}]:
        with pytest.raises(WebSocketDisconnect) as refused, alice.websocket_connect(f"/chat/ws?chat_id={chat}",
                                                                                      headers=headers):
            pass
        assert refused.value.code == 1008, headers


def test_websocket_for_another_users_chat_says_not_found(clients: tuple[TestClient, TestClient]) -> None:
    alice, bob = clients
    chat = new_chat(alice)
    with bob.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
        assert "not found" in ws.receive_text()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4404


def test_websocket_answers_bad_frames_and_stays_up(clients: tuple[TestClient, TestClient]) -> None:
    alice, _ = clients
    chat = new_chat(alice)
    with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
        ws.send_text("{not json")
        assert "not valid JSON" in ws.receive_text()
        ws.send_text('{"action": "send", "msg": "<script>alert(1)</script>' + "x" * 30_000 + '"}')
        reply = ws.receive_text()
        assert "too long" in reply and "<script>" not in reply
        ws.send_text('{"action": "edit", "turn": "7", "msg": "hi"}')
        assert "no turn 7" in ws.receive_text()


def read_until(ws: Any, text: str, limit: int = 200) -> str:
    frames = ""
    for _ in range(limit):
        frames += ws.receive_text()
        if text in frames:
            return frames
    raise AssertionError(f"{text!r} never came")


def test_past_the_cap_on_running_answers_a_send_is_refused_clearly(tmp_path: Path) -> None:
    """An answer left running in chat A (its tab went to chat B) counts: with VARRO_MAX_RUNS_PER_USER=1, B may not
    start one; the chat menu shows A as running; "New chat" from A makes a new chat (A is not empty)."""
    with TestClient(host_app(tmp_path, max_runs_per_user=1), headers=BROWSER) as alice:
        alice.get("/login/alice")
        a = new_chat(alice)
        with alice.websocket_connect(f"/chat/ws?chat_id={a}", headers=ORIGIN) as ws:
            ws.send_text('{"action": "hello", "known": 0}')
            ws.send_text('{"action": "send", "msg": "/stream 2000 at 100"}')
            read_until(ws, 'id="part-0-')
        b = new_chat(alice)
        assert b != a, "a chat whose first answer is being written is not reused as empty"
        assert f'data-testid="running-{a}"' in alice.get(f"/chat/history?current={b}").text
        with alice.websocket_connect(f"/chat/ws?chat_id={b}", headers=ORIGIN) as ws:
            ws.send_text('{"action": "hello", "known": 0}')
            ws.send_text('{"action": "send", "msg": "hello"}')
            refused = read_until(ws, "data-refused")
        assert "1 answer is still being written in your other chats (the limit is 1 at once)" in refused
        assert 'data-running="false"' in refused, "the page unlocks"
        assert 'id="turn-0"' not in refused, "nothing started"
