"""Files out: what a cell writes in its chat's folder becomes download links under its result, served to the owner
only, kept while any version of the turn that made it is, and gone with the chat."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import unquote

from starlette.testclient import TestClient

from tests.kernels import TestHost
from tests.unit.test_routes import BROWSER, ORIGIN, host_app, new_chat
from varro.kernels.folder import changed, listing

WRITE = ("```python\nopen('result.csv', 'w').write('a,b\\n1,2\\n')\nopen('keep.txt', 'a').write('x')\n"
         "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()\n```")


def test_changed_names_new_and_modified_files_only(tmp_path: Path) -> None:
    (tmp_path / "same.txt").write_text("1")
    (tmp_path / "grows.txt").write_text("1")
    (tmp_path / ".hidden").write_text("1")
    before = listing(tmp_path)
    (tmp_path / "grows.txt").write_text("12")
    (tmp_path / "new.csv").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "same.txt")
    (tmp_path / ".snapshots").mkdir()
    assert changed(before, listing(tmp_path)) == ["grows.txt", "new.csv"]


def run_turn(ws, frame: dict[str, object], k: int) -> str:  # noqa: ANN001 - starlette's test session
    ws.send_text(json.dumps(frame))
    page, deadline = "", time.monotonic() + 120
    done = re.compile(rf'<div [^>]*data-status="\w+"[^>]*id="meta-{k}"')
    while not done.search(page) and time.monotonic() < deadline:
        page += ws.receive_text()
    return page


def test_written_files_are_links_for_the_owner_and_go_with_their_chat(tmp_path: Path, kernel_host: TestHost) -> None:
    app = host_app(tmp_path, demo_tps=5000)
    uploads = tmp_path / "up"
    with TestClient(app, headers=BROWSER) as alice, TestClient(app, headers=BROWSER) as bob:
        alice.get("/login/alice")
        bob.get("/login/bob")
        chat = new_chat(alice)
        with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
            ws.send_text(json.dumps({"action": "hello", "known": 0}))
            page = run_turn(ws, {"action": "send", "msg": WRITE}, 0)
            links = dict(re.findall(r'href="([^"]+\?download=([^"]+))"', page.replace("&amp;", "&")))
            names = sorted(unquote(n) for n in links.values())
            assert names == ["figure-1.png", "keep.txt", "result.csv"], page
            url = next(u for u, n in links.items() if n == "result.csv")
            got = alice.get(url)
            assert got.content == b"a,b\n1,2\n"
            assert got.headers["content-disposition"].startswith("attachment;") and "result.csv" in got.headers[
                "content-disposition"]
            assert got.headers["content-type"] == "application/octet-stream"
            assert bob.get(url).status_code == 404  # another user: not found
            stored = sorted(p.name for p in (uploads / "1" / str(chat)).iterdir())
            assert len(stored) == 3

            run_turn(ws, {"action": "send", "msg": WRITE}, 1)  # keep.txt grows: a second copy, kept by turn 1

            # An edit of turn 0 makes a new version of it: the earlier version, and the files its cells wrote, stay.
            kept = len(list((uploads / "1" / str(chat)).iterdir()))
            page = run_turn(ws, {"action": "edit", "turn": "0", "msg": "no code this time"}, 0)
            assert len(list((uploads / "1" / str(chat)).iterdir())) == kept
            assert alice.get(url).content == b"a,b\n1,2\n"

            run_turn(ws, {"action": "send", "msg": WRITE}, 1)
            assert len(list((uploads / "1" / str(chat)).iterdir())) >= kept
        folder = kernel_host.chat_folder(app.state.varro.settings.kernel_space, 1, chat)
        assert (folder / "result.csv").exists()
        assert alice.post(f"/chat/{chat}/delete", follow_redirects=False).status_code == 303
        assert not (uploads / "1" / str(chat)).exists()
        assert not folder.exists(), "the chat's folder goes with it, on its kernel host"
