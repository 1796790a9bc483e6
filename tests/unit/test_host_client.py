"""The web tier's client of a kernel host, against a tiny HTTP server on loopback that behaves as a host may: it
closes a kept-alive connection while the client holds it idle, or it is not there at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from varro.shell.host import HostClient, HostLost


class ClosingHost:
    """Answers each connection's first request (keep-alive promised); a second request on the same connection is
    read and the connection closed without an answer: what a host's idle timeout does when it strikes just as the
    client reuses the connection."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head.split(b" ", 2)[0].decode())
        body = json.dumps([{"name": "a.csv", "size": 1, "media_type": "text/csv"}]).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        self.requests.append("dropped")
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def closing() -> AsyncIterator[tuple[ClosingHost, HostClient]]:
    host = ClosingHost()
    url = await host.__aenter__()
    client = HostClient(url, "token")
    yield host, client
    await client.close()
    await host.__aexit__()


async def test_a_read_goes_again_on_a_new_connection_when_the_host_closed_the_kept_one(
        closing: tuple[ClosingHost, HostClient]) -> None:
    host, client = closing
    assert [f.name for f in await client.files(1, 2)] == ["a.csv"]
    assert [f.name for f in await client.files(1, 2)] == ["a.csv"], "not HostLost: the host is there"
    assert host.requests == ["GET", "dropped", "GET"]


async def test_a_start_is_not_sent_twice() -> None:
    """A POST (a kernel's start) may have reached the host: it is never sent again on its own."""
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(1)
        writer.close()  # read, then gone without an answer

    seen: list[int] = []
    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    client = HostClient(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", "token")
    try:
        with pytest.raises(HostLost):
            await client.start_kernel(1, 2)
        assert seen == [1]
    finally:
        await client.close()
        server.close()


async def test_a_host_that_is_not_there_is_lost() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = HostClient(f"http://127.0.0.1:{port}", "token")
    try:
        with pytest.raises(HostLost):
            await client.files(1, 2)
    finally:
        await client.close()
