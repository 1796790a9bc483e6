"""Every route and websocket action that takes a chat, turn or upload id, tried as another user: "not found"
or a refused frame, and none of the owner's bytes. (tests/unit/test_routes.py has the basic cases; these add
a chat with a stored turn and a figure, every id-taking route, path tricks, and frames naming the owner's ids.)"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fasthtml.common import FastHTML
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.kernels import TestHost
from tests.security.client import turn_statuses
from tests.unit.test_routes import BROWSER, ORIGIN, host_app, new_chat
from varro.chat.content import Attachment, build_content
from varro.db.models import utcnow

SECRET = "alice-secret-7f3a"
PNG = b"\x89PNG\r\n\x1a\n" + SECRET.encode()
# Every path of the module that takes an id; a new one must be added to the tests below.
ID_ROUTES = {"/chat/{chat_id:rowid}", "/chat/{chat_id:rowid}/rename", "/chat/{chat_id:rowid}/delete",
             "/chat/{chat_id:rowid}/export.{fmt}", "/chat/{chat_id:rowid}/answer", "/chat/uploads/{path:path}",
             "/chat/ws", "/chat/{chat_id:rowid}/files", "/chat/{chat_id:rowid}/files/remove",
             "/chat/{chat_id:rowid}/files/{name}", "/chat/{chat_id:rowid}/output/{name}", "/chat/{chat_id:rowid}/preview", "/chat/{chat_id:rowid}/earlier", "/chat/{chat_id:rowid}/pin",
             "/chat/{chat_id:rowid}/archive", "/chat/{chat_id:rowid}/sidebar-rename", "/chat/{chat_id:rowid}/shares",
             "/chat/shares/{share_id:rowid}/revoke", "/chat/shared/{token}", "/chat/shared/{token}/files/{path:path}",
             "/chat/shared/{token}/continue"}


class World:
    """Alice owns a chat with a stored turn (a code cell and its figure); Bob is signed in too."""

    def __init__(self, app: FastHTML, alice: TestClient, bob: TestClient, kernel_host: TestHost) -> None:
        self.app, self.alice, self.bob = app, alice, bob
        self.alice_id = int(alice.get("/login/alice").text.rsplit(" ", 1)[1])
        self.bob_id = int(bob.get("/login/bob").text.rsplit(" ", 1)[1])
        self.chat = new_chat(alice)
        self.bob_chat = new_chat(bob)
        alice.post(f"/chat/{self.chat}/rename", data={"title": f"Plans {SECRET}"})
        self.upload = f"{self.alice_id}/{self.chat}/{'a' * 64}.png"
        file = Path(app.state.varro.settings.uploads_dir) / self.upload
        file.parent.mkdir(parents=True)
        file.write_bytes(PNG)
        messages = [ModelRequest(parts=[UserPromptPart(f"question {SECRET}")]),
                    ModelResponse(parts=[ToolCallPart("run_python", {"code": f"print('{SECRET}')"}, tool_call_id="c1")]),
                    ModelRequest(parts=[ToolReturnPart("run_python", SECRET, tool_call_id="c1")]),
                    ModelResponse(parts=[TextPart(f"answer {SECRET}")])]
        content = build_content(f"question {SECRET}", utcnow(), messages, {"c1": [Attachment(self.upload, "image/png")]},
                                {"model": "demo"})

        async def store_turn() -> None:
            turns = await app.state.varro.store.chats.for_user(self.alice_id).turns(self.chat)
            await turns.append(0, f"question {SECRET}", content)
            await turns.append(1, "and then?", content)  # so that turn 0 is also a batch before it (/earlier)

        alice.portal.call(store_turn)
        self.alice_page = alice.get(f"/chat/{self.chat}").text
        # A file in her chat's folder on its kernel host (an upload, or what a cell wrote).
        self.workdir = kernel_host.chat_folder(os.environ["VARRO_KERNEL_SPACE"], self.alice_id, self.chat)
        self.workdir.mkdir(parents=True)
        (self.workdir / "notes.txt").write_text(SECRET)

    async def shown_turns(self) -> list[Any]:
        return await (await self.app.state.varro.store.chats.for_user(self.alice_id).turns(self.chat)).list()

    def assert_alice_intact(self) -> None:
        assert self.alice.get(f"/chat/{self.chat}").text == self.alice_page
        assert self.alice.get(f"/chat/uploads/{self.upload}").content == PNG
        assert SECRET in self.alice.get(f"/chat/{self.chat}/export.md").text
        assert SECRET in self.alice.get(f"/chat/{self.chat}/earlier?before=1").text
        assert sorted(p.name for p in self.workdir.iterdir()) == ["notes.txt"]
        assert self.alice.get(f"/chat/{self.chat}/files/notes.txt").text == SECRET
        listed = self.alice.get("/chat/sidebar").text  # not pinned, not archived, not renamed
        assert f'data-testid="sidebar-chat-{self.chat}"' in listed and "Unpin" not in listed and SECRET in listed


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_host: TestHost) -> Iterator[World]:
    monkeypatch.setenv("VARRO_DEMO_TPS", "0")  # the demo model answers at once
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice:
        # Bob on the same event loop as Alice (one server, one loop): the app's client of the kernel host is bound to
        # the loop it first ran on, as in a real server.
        bob = TestClient(app, headers=BROWSER)
        bob.portal = alice.portal
        yield World(app, alice, bob, kernel_host)


def assert_nothing_of_alices(body: bytes | str) -> None:
    data = body.encode() if isinstance(body, str) else body
    assert SECRET.encode() not in data and b"PNG" not in data


def test_the_id_taking_routes_are_all_tried(world: World) -> None:
    paths = {r.path for r in world.app.routes if isinstance(r, Route | WebSocketRoute)
             and r.path.startswith("/chat") and ("{" in r.path or isinstance(r, WebSocketRoute))}
    assert paths == ID_ROUTES


def test_routes_as_another_user(world: World) -> None:
    chat, bob = world.chat, world.bob
    for method, path in [("get", f"/chat/{chat}"), ("post", f"/chat/{chat}/rename"), ("post", f"/chat/{chat}/delete"),
                         ("get", f"/chat/{chat}/export.md"), ("get", f"/chat/{chat}/export.ipynb"),
                         ("get", f"/chat/{chat}/answer?k=0&n=0"), ("get", f"/chat/{chat}/answer?k=0&n=1"),
                         ("get", f"/chat/{chat}/earlier?before=1"),
                         ("get", f"/chat/uploads/{world.upload}"), ("get", f"/chat/{chat}/files"),
                         ("get", f"/chat/{chat}/files/notes.txt"), ("get", f"/chat/{chat}/output/notes.txt"),
                         ("get", f"/chat/{chat}/preview?name=notes.txt"), ("post", f"/chat/{chat}/files/remove?name=notes.txt"),
                         ("post", f"/chat/{chat}/files?name=planted.txt"), ("post", f"/chat/{chat}/pin?on=1"),
                         ("post", f"/chat/{chat}/archive?on=1"), ("post", f"/chat/{chat}/sidebar-rename"),
                         ("get", f"/chat/{chat}/shares"), ("post", f"/chat/{chat}/shares")]:
        resp = bob.post(path, data={"title": "pwned"}) if method == "post" else bob.get(path)
        assert resp.status_code == 404, path
        assert_nothing_of_alices(resp.content)
    assert f"search-result-{chat}" in world.alice.get(f"/chat/search?q={SECRET}").text  # the search does find it
    for q in (SECRET, "plans"):  # (the page echoes the query itself in its canonical link: look at the results)
        found = bob.get(f"/chat/search?q={q}").text
        assert f"search-result-{chat}" not in found and "Plans" not in found
    alices_turns = [t.id for t in world.alice.portal.call(world.shown_turns)]
    for path in [f"/chat/history?current={chat}", "/chat/history", f"/chat/{world.bob_chat}",
                 "/chat/history?everything=1", f"/chat/sidebar?current={chat}", "/chat/sidebar?archived=1",
                 *(f"/chat/{world.bob_chat}?turn={t}" for t in alices_turns)]:  # her turn ids open nothing of hers
        resp = bob.get(path)
        assert resp.status_code == 200
        assert_nothing_of_alices(resp.content)
    assert bob.get("/chat", follow_redirects=False).headers["location"] == f"/chat/{world.bob_chat}"
    world.assert_alice_intact()


@pytest.mark.parametrize("path", [
    "{alice}/{chat}/{file}", "{bob}/{chat}/{file}", "{bob}/../{alice}/{chat}/{file}", "{bob}/{chat}/../../{alice}/{chat}/{file}",
    "{bob}/%2e%2e/{alice}/{chat}/{file}", "{bob}%2f..%2f{alice}/{chat}/{file}", "%2F{alice}/{chat}/{file}",
    "{bob}/{chat}/..%5c..%5c{alice}%5c{chat}%5c{file}", "{alice}/{chat}/{file}%00.png", "{alice}/{chat}/./{file}",
    "{alice}/{chat}", "{alice}", "../../../../etc/passwd", "{bob}/{chat}/%2e%2e%2f%2e%2e%2f{alice}%2f{chat}%2f{file}",
])
def test_upload_paths_as_another_user(world: World, path: str) -> None:
    alice, file = str(world.alice_id), world.upload.rsplit("/", 1)[1]
    url = "/chat/uploads/" + path.format(alice=alice, bob=world.bob_id, chat=world.chat, file=file)
    resp = world.bob.get(url)
    assert resp.status_code == 404, url
    assert_nothing_of_alices(resp.content)


def read_until_stored(ws, k: int) -> str:  # noqa: ANN001  (Starlette's test session)
    frames = ""
    while k not in turn_statuses(frames):
        frames += ws.receive_text()
    return frames


def test_socket_for_another_users_chat_is_refused_and_leaves_hers_alone(world: World) -> None:
    with world.alice.websocket_connect(f"/chat/ws?chat_id={world.chat}", headers=ORIGIN) as mine:
        mine.send_text(json.dumps({"action": "hello", "known": 2}))
        with world.bob.websocket_connect(f"/chat/ws?chat_id={world.chat}", headers=ORIGIN) as theirs:
            reply = theirs.receive_text()
            assert "not found" in reply
            assert_nothing_of_alices(reply)
            with pytest.raises(WebSocketDisconnect) as closed:
                theirs.receive_text()
            assert closed.value.code == 4404
        # Alice's socket was not taken over: it still answers her.
        mine.send_text(json.dumps({"action": "edit", "turn": "9", "msg": "x"}))
        assert "no turn 9" in mine.receive_text()
    world.assert_alice_intact()


def test_frames_naming_another_users_ids_act_on_ones_own_chat_only(world: World) -> None:
    with world.bob.websocket_connect(f"/chat/ws?chat_id={world.bob_chat}", headers=ORIGIN) as ws:
        # The socket's chat is fixed when it opens; ids in a frame never pick another one.
        ws.send_text(json.dumps({"action": "hello", "known": 0, "chat_id": world.chat}))
        ws.send_text(json.dumps({"action": "edit", "turn": "0", "msg": "pwned", "chat_id": world.chat}))
        reply = ws.receive_text()
        assert "no turn 0" in reply
        ws.send_text(json.dumps({"action": "send", "msg": "hello", "chat_id": world.chat, "turn": "0"}))
        frames = read_until_stored(ws, 0)
        assert_nothing_of_alices(reply + frames)
        ws.send_text(json.dumps({"action": "stop", "chat_id": world.chat}))
        ws.send_text(json.dumps({"action": "reset", "chat_id": world.chat}))
    page = world.bob.get(f"/chat/{world.bob_chat}").text
    assert 'data-testid="user-text-0"' in page
    assert_nothing_of_alices(page)
    world.assert_alice_intact()


def share_token(client: TestClient, chat: int, files: bool = False) -> tuple[str, int]:
    listed = client.post(f"/chat/{chat}/shares", data={"files": "1"} if files else {}).text
    token = re.findall(r"/chat/shared/([A-Za-z0-9_-]+)", listed)[0]
    share_id = int(re.findall(r'data-testid="revoke-share-([0-9]+)"', listed)[0])
    return token, share_id


def test_a_shared_link_shows_that_chat_only_and_a_revoked_or_wrong_token_is_not_found(world: World) -> None:
    token, share_id = share_token(world.alice, world.chat)
    with TestClient(world.app, headers=BROWSER) as anon:  # no session at all
        page = anon.get(f"/chat/shared/{token}")
        assert page.status_code == 200 and f"answer {SECRET}" in page.text
        assert "noindex" in page.headers["x-robots-tag"] and "content-security-policy" in page.headers
        assert 'id="chat-input"' not in page.text, "no composer"
        assert "alice" not in page.text.replace(SECRET, "").lower(), "nothing names its owner (her title aside)"
        assert anon.get(f"/chat/shared/{token}/files/{world.upload}").status_code == 404, "figures not included"
        assert anon.post(f"/chat/shared/{token}/continue").status_code == 401, "continuing needs a user"
        for wrong in (token[:-1], token + "x", "a" * 43, f"{token}%2f..", str(world.chat), token.upper()):
            resp = anon.get(f"/chat/shared/{wrong}")
            assert resp.status_code == 404, wrong
            assert_nothing_of_alices(resp.content)
    assert world.bob.post(f"/chat/shares/{share_id}/revoke").status_code == 404, "only her links are hers to revoke"
    assert world.bob.get(f"/chat/shared/{token}").status_code == 200
    assert world.alice.post(f"/chat/shares/{share_id}/revoke").status_code == 200
    resp = world.bob.get(f"/chat/shared/{token}")
    assert resp.status_code == 404 and SECRET not in resp.text, "a revoked link shows nothing"
    assert world.bob.post(f"/chat/shared/{token}/continue").status_code == 404


def test_continuing_a_shared_chat_copies_it_and_files_only_when_included(world: World) -> None:
    token, _ = share_token(world.alice, world.chat, files=True)
    assert world.bob.get(f"/chat/shared/{token}/files/{world.upload}").content == PNG
    other = f"{world.alice_id}/{world.chat}/{'b' * 64}.png"  # her upload, but no turn of the link shows it
    (Path(world.app.state.varro.settings.uploads_dir) / other).write_bytes(PNG)
    assert world.bob.get(f"/chat/shared/{token}/files/{other}").status_code == 404
    copied = world.bob.post(f"/chat/shared/{token}/continue", follow_redirects=False)
    assert copied.status_code == 303
    mine = int(copied.headers["location"].rsplit("/", 1)[1])
    assert mine not in (world.chat, world.bob_chat)
    assert f"answer {SECRET}" in world.bob.get(f"/chat/{mine}").text, "the copy is Bob's own chat"
    assert world.bob.post(f"/chat/{world.chat}/rename", data={"title": "x"}).status_code == 404, "hers stays hers"
    world.assert_alice_intact()
