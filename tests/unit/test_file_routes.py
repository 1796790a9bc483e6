"""Files in: upload into the chat's working directory over HTTP, refusals that keep nothing, owner-only access,
and the model told what came with a message."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from fasthtml.common import FastHTML
from starlette.testclient import TestClient

from tests.kernels import TestHost
from tests.unit.test_routes import BROWSER, ORIGIN, host_app, new_chat
from varro.chat.content import files_of, messages_of
from varro.kernels.folder import open_output

CSV = b"region,amount\nnorth,10\nsouth,20\neast,30\nwest,40\ncentre,50\nextra,60\n"


def user_folder(host: TestHost, app: FastHTML, user: int) -> Path:
    """The user's chats' folders on the kernel host the app's chats live on."""
    return host.chat_folder(app.state.varro.kernels.space, user, 0).parent


def workdir(host: TestHost, app: FastHTML, user: int, chat: int) -> Path:
    return user_folder(host, app, user) / str(chat)


def stored_names(host: TestHost, app: FastHTML, user: int, chat: int) -> list[str]:
    """Everything in the user's chats' folders."""
    root = user_folder(host, app, user)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(client: TestClient, chat: int, name: str, body: bytes | Iterator[bytes]) -> tuple[int, str]:
    resp = client.post(f"/chat/{chat}/files", params={"name": name}, content=body)
    return resp.status_code, resp.text


def test_an_upload_lands_in_the_working_directory_and_answers_with_its_chip(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        status, chip = upload(alice, chat, "sales.csv", CSV)
        assert status == 200
        assert 'name="files"' in chip and 'value="sales.csv"' in chip and 'data-testid="file-chip"' in chip
        assert (workdir(kernel_host, app, 1, chat) / "sales.csv").read_bytes() == CSV
        # Listed in the Files view, and downloadable as a file (never shown in our origin).
        listing = alice.get(f"/chat/{chat}/files").text
        assert "sales.csv" in listing and "files-entry" in listing
        got = alice.get(f"/chat/{chat}/files/sales.csv")
        assert got.content == CSV
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["content-type"] == "application/octet-stream"


def test_a_duplicate_name_is_renamed_never_overwritten(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        assert upload(alice, chat, "sales.csv", CSV)[0] == 200
        status, chip = upload(alice, chat, "sales.csv", b"other")
        assert status == 200 and 'value="sales (1).csv"' in chip
        assert upload(alice, chat, "sales.csv", b"third")[0] == 200
        folder = workdir(kernel_host, app, 1, chat)
        assert (folder / "sales.csv").read_bytes() == CSV
        assert (folder / "sales (1).csv").read_bytes() == b"other"
        assert (folder / "sales (2).csv").read_bytes() == b"third"


def test_refused_uploads_say_why_and_keep_nothing(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path, max_upload_mb=1)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        big = b"x" * (2**20 + 1)
        status, text = upload(alice, chat, "big.bin", big)  # said up front by Content-Length
        assert status == 413 and "too large" in text and "1.0 MB" in text

        def chunked() -> Iterator[bytes]:  # no Content-Length: the cap holds while the body is read
            for _ in range(40):
                yield b"y" * 65536

        status, text = upload(alice, chat, "stream.bin", chunked())
        assert status == 413 and "stream.bin is too large" in text
        status, text = upload(alice, chat, "empty.csv", b"")
        assert status == 400 and "empty" in text
        for bad in ("../escape.csv", "a/b.csv", "..", "..\\win.csv", ".snapshots", "", "nul\x00.csv"):
            status, text = upload(alice, chat, bad, CSV)
            assert status == 400, bad
            assert text, bad
        assert stored_names(kernel_host, app, 1, chat) == []
        assert not (tmp_path / "k" / "escape.csv").exists() and not (tmp_path / "escape.csv").exists()


def test_another_users_chat_is_not_found(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice, TestClient(app, headers=BROWSER) as bob:
        alice.get("/login/alice")
        bob.get("/login/bob")
        refused_to_bob(kernel_host, app, alice, bob)


def refused_to_bob(kernel_host: TestHost, app: FastHTML, alice: TestClient, bob: TestClient) -> None:
    chat = new_chat(alice)
    assert upload(alice, chat, "mine.csv", CSV)[0] == 200
    status, text = upload(bob, chat, "theirs.csv", CSV)
    assert status == 404 and "not found" in text
    assert bob.get(f"/chat/{chat}/files").status_code == 404
    assert bob.get(f"/chat/{chat}/files/mine.csv").status_code == 404
    assert bob.post(f"/chat/{chat}/files/remove", params={"name": "mine.csv"}).status_code == 404
    assert stored_names(kernel_host, app, 1, chat) == [f"{chat}/mine.csv"]
    assert not user_folder(kernel_host, app, 2).exists()


def test_a_removed_chip_takes_its_file_away(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        upload(alice, chat, "notes.txt", b"hello")
        assert alice.post(f"/chat/{chat}/files/remove", params={"name": "notes.txt"}).status_code == 200
        assert not (workdir(kernel_host, app, 1, chat) / "notes.txt").exists()
        assert alice.post(f"/chat/{chat}/files/remove", params={"name": "../x"}).status_code == 404


def test_downloads_never_follow_a_link_out_of_the_folder(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        upload(alice, chat, "a.txt", b"a")
        (workdir(kernel_host, app, 1, chat) / "link.txt").symlink_to(secret)  # what code in the kernel could make
        assert alice.get(f"/chat/{chat}/files/link.txt").status_code == 404
        assert "link.txt" not in alice.get(f"/chat/{chat}/files").text


def test_the_model_is_told_the_files_a_message_came_with(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        upload(alice, chat, "sales.csv", CSV)
        with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
            ws.send_text(json.dumps({"action": "hello", "known": 0}))
            ws.send_text(json.dumps({"action": "send", "msg": "summarise this", "files": "sales.csv"}))
            page = ""
            deadline = time.monotonic() + 30
            while 'data-status="complete"' not in page and time.monotonic() < deadline:
                page += ws.receive_text()
            assert 'data-testid="message-file"' in page and "sales.csv" in page
            # A name that is not in the folder is refused with a sentence, and nothing runs.
            ws.send_text(json.dumps({"action": "send", "msg": "and this", "files": ["gone.csv"]}))
            reply = ""
            while "no longer in this chat" not in reply and time.monotonic() < deadline:  # (a title may come first)
                reply = ws.receive_text()
            assert "no longer in this chat" in reply
            # An edit of the message keeps the files it came with.
            ws.send_text(json.dumps({"action": "edit", "turn": "0", "msg": "summarise this, briefly"}))
            page = ""
            while not re.search(r'<div [^>]*data-status="\w+"[^>]*id="meta-0"', page) and time.monotonic() < deadline:
                page += ws.receive_text()
            assert 'data-testid="message-file"' in page
        reloaded = alice.get(f"/chat/{chat}").text  # after a reload: the user's words, the file as a chip
        assert 'data-testid="message-file"' in reloaded and "First lines" not in reloaded
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        content = json.loads(db.execute("select content from turn where idx = 0 and on_path").fetchone()[0])
    assert [f.name for f in files_of(content)] == ["sales.csv"]
    prompt = str(messages_of(content)[0].parts[-1].content)  # type: ignore[union-attr]
    assert prompt.startswith("summarise this, briefly")
    assert "sales.csv (" in prompt and "text/csv" in prompt and "north,10" in prompt
    assert "extra,60" not in prompt  # the first lines only


def test_new_chat_is_a_fresh_one_when_the_empty_chat_has_files_attached(tmp_path: Path) -> None:
    """An empty chat is reused by "New chat", so they don't pile up; but not one holding files the user attached
    and has not sent yet: the new chat would come with them."""
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        assert new_chat(alice) == chat  # empty: reused
        assert upload(alice, chat, "sales.csv", CSV)[0] == 200
        fresh = new_chat(alice)
        assert fresh != chat
        assert alice.get(f"/chat/{fresh}/files").text.count("files-entry") == 0
        assert new_chat(alice) == fresh  # and that one, empty, is reused in turn


def test_a_saved_output_opens_only_as_a_plain_file_of_the_outputs_folder(tmp_path: Path) -> None:
    """The kernel writes `.outputs/`: a name that is not `cell-….txt`, a link, or a FIFO in its place is refused."""
    outputs = tmp_path / "work" / ".outputs"
    outputs.mkdir(parents=True)
    (outputs / "cell-abc_1.txt").write_text("all of it")
    opened = open_output(tmp_path / "work", "cell-abc_1.txt")
    assert opened is not None and opened[1] == len("all of it")
    os.close(opened[0])
    (tmp_path / "secret.txt").write_text("not yours")
    (outputs / "cell-link.txt").symlink_to(tmp_path / "secret.txt")
    os.mkfifo(outputs / "cell-fifo.txt")
    for name in ("cell-link.txt", "cell-fifo.txt", "../secret.txt", "secret.txt", "cell-abc_1.txt/.."):
        assert open_output(tmp_path / "work", name) is None, name
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ".outputs").symlink_to(outputs)  # the folder itself a link
    assert open_output(tmp_path / "other", "cell-abc_1.txt") is None
