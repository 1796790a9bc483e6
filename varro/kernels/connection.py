"""A kernel's websocket channels as the web tier uses them: jupyter_server's connection, plus a cell's begin and end.

Every cell of the web tier needs the host's watch on the chat's folder from before the kernel sees the cell until
its end (the quota, the files it changed). Asked for over REST, that was two round trips a cell, more than the
relay of the cell itself. Here an `execute_request` marked `varro_cell` in its metadata begins the watch before it
is passed to the kernel (messages after it wait their turn), and the cell's end, what `DELETE .../cell` answers,
follows the cell's idle status as a message of its own on iopub (`varro_cell_end`, the request as its parent). A
cell that does not go idle (its kernel died, it was stuck past its interrupt) is ended over REST as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError

from varro.kernel_protocol import CELL_END, CELL_MARK
from varro.kernels.chats import ChatKey

log = logging.getLogger(__name__)



class ChatConnection(ZMQChannelsWebsocketConnection):
    """Also: small kernel messages go out at once. Without TCP_NODELAY, Nagle's algorithm and the client's delayed
    ACK held every reply ~40 ms on loopback."""

    def connect(self) -> Any:
        self.websocket_handler.set_nodelay(True)
        self._in_order: asyncio.Future[None] | None = None  # the last incoming message still on its way to the kernel
        self._cells: dict[str, ChatKey] = {}  # a marked cell's msg_id -> its chat, until its end is sent
        return super().connect()

    # --- in: a marked cell's watch begins before the kernel sees it ---------------------------------------------

    def handle_incoming_message(self, incoming_msg: str) -> None:
        cell = self._marked_cell(incoming_msg)
        if cell is None and (self._in_order is None or self._in_order.done()):
            super().handle_incoming_message(incoming_msg)
            return
        self._in_order = asyncio.ensure_future(self._pass_on(self._in_order, cell, incoming_msg))

    def _marked_cell(self, incoming_msg: str) -> str | None:
        """The msg_id of an execute_request the web tier marked, or None."""
        if not isinstance(incoming_msg, str) or CELL_MARK not in incoming_msg:
            return None
        try:
            msg = json.loads(incoming_msg)
            if msg["header"]["msg_type"] == "execute_request" and msg["metadata"].get(CELL_MARK):
                return str(msg["header"]["msg_id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        return None

    async def _pass_on(self, before: asyncio.Future[None] | None, msg_id: str | None, incoming_msg: str) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        key = self.multi_kernel_manager.chat_of(self.kernel_id)
        if msg_id is not None and key is not None:
            # Its begin ends the chat's earlier watch (a cell the web tier left, interrupted): that cell's idle, when
            # it comes, must not end this one.
            self._cells = {m: k for m, k in self._cells.items() if k != key}
            try:
                await self.multi_kernel_manager.begin_cell(key)
                self._cells[msg_id] = key
            except Exception:  # the kernel went meanwhile: the cell goes on, and the web tier finds out from it
                log.exception("a cell's watch could not begin for %s", key)
        super().handle_incoming_message(incoming_msg)

    # --- out: after a marked cell's idle status, its end ---------------------------------------------------------

    def _on_zmq_reply(self, stream: Any, msg_list: Any) -> None:
        super()._on_zmq_reply(stream, msg_list)  # type: ignore[no-untyped-call]
        if self._cells and isinstance(msg_list, dict) and getattr(stream, "channel", None) == "iopub":
            header, parent = msg_list.get("header") or {}, msg_list.get("parent_header") or {}
            if (header.get("msg_type") == "status" and msg_list.get("content", {}).get("execution_state") == "idle"
                    and (key := self._cells.pop(str(parent.get("msg_id")), None)) is not None):
                asyncio.ensure_future(self._send_end(parent["msg_id"], key))

    async def _send_end(self, msg_id: str, key: ChatKey) -> None:
        try:
            fate = await self.multi_kernel_manager.end_cell(key)
        except Exception:
            log.exception("a cell's end could not be told for %s", key)
            return  # the web tier, waiting in vain, asks over REST
        header = {"msg_id": uuid.uuid4().hex, "msg_type": CELL_END, "session": "", "username": "varro-kernels",
                  "date": datetime.now(UTC).isoformat(), "version": "5.3"}
        message = {"channel": "iopub", "header": header, "parent_header": {"msg_id": msg_id}, "metadata": {},
                   "content": fate, "buffers": []}
        try:
            self.write_message(json.dumps(message))
        except WebSocketClosedError:
            pass
