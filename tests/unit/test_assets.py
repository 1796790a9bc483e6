"""A light page: content-hashed static URLs cached for a year, text sent gzip-compressed, pages compressed, images
with their size, and the scripts deferred."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fasthtml.common import FastHTML, to_xml
from starlette.testclient import TestClient

from app.assets import IMMUTABLE, asset_url
from app.main import create_app
from tests.unit.test_routes import BROWSER, host_app, new_chat
from ui.nodes import Figure
from varro.config import Settings
from varro.images import image_size

GZIP = {"accept-encoding": "gzip"}
LOCAL = "http://127.0.0.1:5001"


@pytest.fixture
def app(tmp_path: Path) -> FastHTML:
    return host_app(tmp_path)


def standalone(tmp_path: Path) -> FastHTML:
    return create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", uploads_dir=tmp_path / "up",
                               kernels_dir=tmp_path / "k", secret_key="s"))


def test_the_page_links_hashed_assets_that_are_cached_for_a_year(tmp_path: Path) -> None:
    with TestClient(standalone(tmp_path), headers=BROWSER, base_url=LOCAL) as client:
        page = client.get("/chat", follow_redirects=True)
        scripts = re.findall(r'<script src="([^"]+)"( defer)?', page.text)
        assert scripts and all(re.search(r"\.[0-9a-f]{12}\.js$", src) for src, _ in scripts), scripts
        assert [src for src, defer in scripts if not defer] == [asset_url("/chat/static")("js/theme.js")], \
            "nothing but the tiny theme script holds up the first paint"
        assert "plotly" not in "".join(src for src, _ in scripts), "plotly.js is loaded by a chart, not by the head"
        css = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        for url in [src for src, _ in scripts] + css:
            got = client.get(url, headers=GZIP)
            assert got.status_code == 200 and got.headers["cache-control"] == IMMUTABLE, url
            assert got.headers["content-encoding"] == "gzip", url
            again = client.get(url, headers={**GZIP, "if-none-match": got.headers["etag"]})
            assert again.status_code == 304


def test_plain_and_stale_urls_still_work_and_are_revalidated(tmp_path: Path) -> None:
    with TestClient(standalone(tmp_path), base_url=LOCAL) as client:
        plain = client.get("/chat/static/vendor/htmx.min.js", headers={"accept-encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"]
        stale = client.get("/chat/static/vendor/htmx.min.000000000000.js", headers=GZIP)
        assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
        zipped = client.get("/chat/static/vendor/htmx.min.js", headers=GZIP)
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content  # httpx decodes it
        assert zipped.num_bytes_downloaded < len(plain.content) / 2
        assert client.get("/chat/static/../app/main.py").status_code == 404
        assert client.get("/chat/static/vendor/nothing.000000000000.js").status_code == 404


def test_pages_and_fragments_are_compressed_but_images_and_the_socket_are_not(app: FastHTML, tmp_path: Path) -> None:
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        page = alice.get(f"/chat/{chat}", headers=GZIP)
        assert page.headers["content-encoding"] == "gzip" and page.headers["content-type"].startswith("text/html")
        assert 'id="chat-turns"' in page.text
        menu = alice.get("/chat/history", headers=GZIP)
        assert menu.status_code == 200
        with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers={"origin": "http://testserver"}) as ws:
            ws.send_text('{"action": "hello", "k": 0}')  # the socket works as before (frames are not HTTP bodies)
    png = tmp_path / "up" / "1" / f"{chat}" / ("a" * 64 + ".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"x" * 900)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        img = alice.get(f"/chat/uploads/1/{chat}/{'a' * 64}.png", headers=GZIP)
        assert img.status_code == 200 and "content-encoding" not in img.headers


def test_a_figure_has_its_pixel_size_so_nothing_moves_when_it_loads() -> None:
    header = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    assert image_size(header) == (640, 480)
    assert image_size(b"GIF89a" + (20).to_bytes(2, "little") + (10).to_bytes(2, "little")) == (20, 10)
    jpeg = b"\xff\xd8" + b"\xff\xe0\x00\x04ab" + b"\xff\xc0\x00\x11\x08" + (30).to_bytes(2, "big") + (40).to_bytes(2, "big")
    assert image_size(jpeg + b"\0" * 10) == (40, 30)
    assert image_size(b"<svg/>") is None
    html = to_xml(Figure("/f.png", "figure-1.png", 640, 480))
    assert 'width="640"' in html and 'height="480"' in html and "h-auto" in html
