"""Figure 6: bytes on the wire, counted by a TCP proxy between Chromium and the server.

What the proxy counts is what crossed the socket from the server: websocket frames after
permessage-deflate (uvicorn enables it and Chromium asks for it), with their headers, plus the
handshake. The trace's `b` is the same frames' HTML before compression ("payload").
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from tests.e2e.server import free_port

_WS_REQUEST = re.compile(rb"^GET /(?:chat/)?ws\?(?:chat_id|run)=(\d+)")


@dataclass
class ByteCountingProxy:
    """Forwards 127.0.0.1:port to the server; counts server-to-browser bytes of each websocket by its chat id."""

    target_port: int
    port: int = field(default_factory=free_port)
    ws_bytes: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._forward(reader, writer)
        except (asyncio.CancelledError, OSError):
            writer.close()  # the proxy is closing, or a side hung up: nothing to report

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        first = await reader.read(65536)
        match = _WS_REQUEST.match(first)
        chat = int(match[1]) if match else None
        up_writer.write(first)
        await asyncio.gather(self._pipe(reader, up_writer, None), self._pipe(up_reader, writer, chat),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chat: int | None) -> None:
        try:
            while data := await reader.read(65536):
                if chat is not None:
                    self.ws_bytes[chat] += len(data)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()  # the other direction's pipe ends when its reader sees this

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
