"""A kernel's channels over the Jupyter Server kernels API's websocket (`/api/kernels/{id}/channels`).

Messages are the Jupyter messaging protocol as JSON (the websocket's plain text protocol), each with its
`channel`. One reader task sorts what arrives into a queue per channel; a closed socket ends every wait with
`ChannelsClosed`, so a lost kernel host is noticed at once rather than at a cell's timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 2**20  # the largest message read from a kernel (the kernel's own caps are far lower)
OPEN_TIMEOUT = 30.0
PROTOCOL_VERSION = "5.3"

Message = dict[str, Any]


class ChannelsClosed(ConnectionError):
    """The websocket to the kernel host closed: the host went away, or the kernel was shut down."""


class Channels:
    def __init__(self, socket: ClientConnection, session: str) -> None:
        self._socket = socket
        self._session = session
        self._queues: dict[str, asyncio.Queue[Message | None]] = {
            name: asyncio.Queue() for name in ("shell", "iopub", "control", "stdin")}
        self._reader = asyncio.create_task(self._read())
        self.closed = False

    @classmethod
    async def open(cls, url: str, token: str) -> Channels:
        session = uuid.uuid4().hex
        socket = await connect(f"{url}?session_id={session}", additional_headers={"Authorization": f"token {token}"},
                               max_size=MAX_MESSAGE_BYTES, open_timeout=OPEN_TIMEOUT, compression=None,
                               ping_interval=None)
        return cls(socket, session)

    async def _read(self) -> None:
        try:
            async for frame in self._socket:
                if not isinstance(frame, str):
                    continue  # binary frames carry buffers (widgets); nothing here uses them
                try:
                    msg = json.loads(frame)
                    queue = self._queues.get(msg.get("channel", ""))
                except (ValueError, AttributeError):
                    continue
                if queue is not None:
                    queue.put_nowait(msg)
        except WebSocketException:
            pass
        finally:
            self.closed = True
            for queue in self._queues.values():
                queue.put_nowait(None)

    async def send(self, channel: str, msg_type: str, content: dict[str, Any],
                   metadata: dict[str, Any] | None = None) -> str:
        """Queue a request on `channel`; its msg_id, which replies and output name as their parent."""
        if self.closed:
            raise ChannelsClosed("the kernel host's connection is closed")
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": "varro", "session": self._session,
                  "date": datetime.now(UTC).isoformat(), "version": PROTOCOL_VERSION}
        frame = json.dumps({"header": header, "parent_header": {}, "metadata": metadata or {}, "content": content,
                            "channel": channel, "buffers": []})
        try:
            await self._socket.send(frame)
        except WebSocketException:
            raise ChannelsClosed("the kernel host's connection closed") from None
        return msg_id

    async def receive(self, channel: str, wait: float) -> Message | None:
        """The next message on `channel`, or None after `wait` seconds; ChannelsClosed once the socket is gone."""
        queue = self._queues[channel]
        try:
            msg = await asyncio.wait_for(queue.get(), wait)
        except TimeoutError:
            return None
        if msg is None:
            queue.put_nowait(None)  # every later wait ends too
            raise ChannelsClosed("the kernel host's connection closed")
        return msg

    def drain(self, channel: str) -> list[Message]:
        """Take what waits on `channel` (output of cells nobody reads any more, news of the kernel between cells)."""
        queue = self._queues[channel]
        taken = []
        while not queue.empty():
            msg = queue.get_nowait()
            if msg is None:
                queue.put_nowait(None)
                break
            taken.append(msg)
        return taken

    def put_back(self, channel: str, messages: list[Message]) -> None:
        """Return `messages`, taken out of turn, to the front of `channel`'s queue, in their order."""
        if not messages or self.closed:  # closed: every wait ends with ChannelsClosed; nothing is read any more
            return
        queue = self._queues[channel]
        for msg in [*messages, *self.drain(channel)]:
            queue.put_nowait(msg)

    async def close(self) -> None:
        await self._socket.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
