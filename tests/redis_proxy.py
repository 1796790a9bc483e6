"""A TCP proxy in front of the test Redis whose link a test cuts and restores: one process losing Redis for a moment
while the others keep it, as a network fault would, with the real Redis behind it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.engine import make_url

from tests.services import REDIS_URL


class RedisLink:
    def __init__(self) -> None:
        self.cut = False
        self._pairs: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/{make_url(REDIS_URL).database or 0}"

    def sever(self) -> None:
        """Every connection through the link drops, and new ones are closed at once, until `restore`."""
        self.cut = True
        for writer in list(self._pairs):
            writer.close()
        self._pairs.clear()

    def restore(self) -> None:
        self.cut = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        target = make_url(REDIS_URL)
        up_reader, up_writer = await asyncio.open_connection(target.host or "127.0.0.1", target.port or 6379)
        self._pairs |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._pairs.discard(w)
            w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


@contextlib.asynccontextmanager
async def redis_link() -> AsyncIterator[RedisLink]:
    link = RedisLink()
    await link.start()
    try:
        yield link
    finally:
        await link.close()
