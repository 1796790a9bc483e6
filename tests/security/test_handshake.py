"""The websocket handshake against the real server (`python -m app`): another origin, `null`, none, or a
rebound host name are refused; the page's own origin is accepted. (tests/unit/test_routes.py covers the
first three with Starlette's test client; this is uvicorn on a real socket.)"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from urllib.parse import urlsplit

import pytest

from app.csrf import origin_allowed
from tests.e2e.server import Server
from tests.security.client import Tab
from varro.config import Settings


def handshake(server: Server, path: str, cookies: str, origin: str | None, host: str | None = None) -> int:
    """Send a websocket upgrade request by hand (so every header is ours to choose); the HTTP status back."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or urlsplit(server.url).netloc}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13",
             f"Cookie: {cookies}"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


@pytest.fixture(scope="module")
def demo_tab(server: Server) -> Tab:
    tab = Tab(server.url, "")
    asyncio.run(tab.sign_in())
    return tab


@pytest.mark.parametrize("origin", [
    "http://evil.example", "null", None, "http://127.0.0.1:1", "http://localhost:{port}", "http://127.0.0.1:{port}.evil.example",
    "file://", "chrome-extension://abcdef", "ws://127.0.0.1:{port}", "http://127.0.0.1:{port}@evil.example",
])
async def test_foreign_origins_are_refused(server: Server, demo_tab: Tab, origin: str | None) -> None:
    port = urlsplit(server.url).port
    value = origin.format(port=port) if origin else None
    path = f"/chat/ws?chat_id={demo_tab.chat_id}"
    assert handshake(server, path, demo_tab.cookies, value) == 403, value


async def test_same_origin_is_accepted(server: Server, demo_tab: Tab) -> None:
    assert handshake(server, f"/chat/ws?chat_id={demo_tab.chat_id}", demo_tab.cookies, server.url) == 101
    await demo_tab.open()  # and a real client speaks to it
    await demo_tab.ws.send("{broken")
    assert "not valid JSON" in await demo_tab.recv(10)
    await demo_tab.close()


def test_no_session_or_a_forged_one_is_refused_even_from_the_same_origin(server: Server, demo_tab: Tab) -> None:
    # Even in demo mode: the page signs a visitor in, the socket never does.
    assert handshake(server, f"/chat/ws?chat_id={demo_tab.chat_id}", "", server.url) == 403
    forged = "session_=eyJ1c2VyX2lkIjogMX0=.forged.signature"  # {"user_id": 1}, unsigned
    assert handshake(server, f"/chat/ws?chat_id={demo_tab.chat_id}", forged, server.url) == 403


async def test_a_rebound_host_name_is_refused(server: Server, demo_tab: Tab) -> None:
    """DNS rebinding: evil.example now resolves to 127.0.0.1, so its page is "same origin" with itself."""
    port = urlsplit(server.url).port
    evil = f"evil.example:{port}"
    assert handshake(server, f"/chat/ws?chat_id={demo_tab.chat_id}", demo_tab.cookies, f"http://{evil}", evil) == 400
    assert handshake(server, "/chat", "", f"http://{evil}", evil) == 400


def test_allowed_origins_and_hosts() -> None:
    assert origin_allowed("http://a.example:8080", "a.example:8080", [])
    assert origin_allowed("https://app.example", "internal:5001", ["https://app.example"])
    assert not origin_allowed("https://app.example.evil", "internal:5001", ["https://app.example"])
    assert Settings(host="127.0.0.1").trusted_hosts == ["127.0.0.1", "[::1]", "localhost"]
    assert Settings(host="0.0.0.0").trusted_hosts == ["127.0.0.1", "[::1]", "localhost"]  # and create_app refuses it
    assert Settings(host="0.0.0.0", allowed_hosts=["chat.example"]).trusted_hosts == ["chat.example"]


def test_the_session_cookie_is_not_sent_by_cross_site_posts(server: Server) -> None:
    """Renames and deletes are POSTs: SameSite=Lax keeps another site's form from carrying the session."""
    with socket.create_connection((urlsplit(server.url).hostname, urlsplit(server.url).port), timeout=10) as conn:
        conn.sendall(f"GET /chat HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
    cookie = next(line for line in head.decode().split("\r\n") if line.lower().startswith("set-cookie:")).lower()
    assert "samesite=lax" in cookie and "httponly" in cookie
