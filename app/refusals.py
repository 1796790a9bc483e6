"""How a tab is told no: an inline notice, and for a socket past one of its budgets a close code of its own.

Every close here is a 4xxx code, on which htmx-ext-ws never reopens the socket (it does on 1006, 1011, 1012 and
1013): a tab closed for flooding or crowding stays closed and says why, rather than reconnecting into the same
budget. static/js/chat.js knows these codes (OVER_LIMIT) and refuses sends until the page is reloaded.
"""

from __future__ import annotations

import contextlib
import logging

from fasthtml.common import Div, to_xml
from starlette.websockets import WebSocket, WebSocketState

from ui import ids
from ui.layout import Progress
from ui.turns import ErrorBlock
from varro.chat.ratelimit import Over
from varro.config import Settings

log = logging.getLogger("varro.ws")

FLOODED = 4429  # the user's sockets sent frames faster than VARRO_WS_FRAMES_PER_S allows
ADDRESS_FLOODED = 4430  # the client address's sockets (all its users) sent faster than VARRO_ADDRESS_FRAMES_PER_S
CROWDED = 4431  # the client address has VARRO_MAX_SOCKETS_PER_ADDRESS sockets open already
FLOOD_MESSAGE = "Too many messages too quickly, so this connection was closed. Reload the page to continue."
ADDRESS_FLOOD_MESSAGE = ("Too many messages too quickly from your network address (everyone signed in from it counts), "
                         "so this connection was closed. Reload the page in a moment to continue.")


def notice(message: str, running: bool, keep_draft: bool = False) -> str:
    """An inline error in the notice area; unlocks the input unless a run is going on. `keep_draft`: the page puts
    the message it sent back in the input (`data-refused`)."""
    block = Div(ErrorBlock(message), data_refused="true") if keep_draft else ErrorBlock(message)
    frame = to_xml(Div(block, id=ids.NOTICES, hx_swap_oob="innerHTML"))
    return frame if running else frame + to_xml(Progress("idle", oob=True))


def crowded_message(cap: int) -> str:
    return (f"Too many connections from your network address at once (the limit is {cap}), so this one was closed. "
            "Close a tab of this chat elsewhere, or wait a little, then reload the page.")


def closing(over: Over, settings: Settings) -> tuple[int, str, str]:
    """The close code, the close frame's reason (the page shows it on a later send) and the notice, for `over`."""
    match over:
        case Over.USER_FRAMES:
            return FLOODED, "too many messages", FLOOD_MESSAGE
        case Over.ADDRESS_FRAMES:
            return ADDRESS_FLOODED, "too many messages from this address", ADDRESS_FLOOD_MESSAGE
        case Over.ADDRESS_SOCKETS:
            return CROWDED, "too many connections from this address", crowded_message(settings.max_sockets_per_address)


async def close_over(ws: WebSocket, over: Over, settings: Settings, who: str, loud: bool = True) -> None:
    """Tell the tab why, and close with `over`'s code; the budget refills with time, whatever the tab does.
    Logged as a warning if `loud`, else at debug level."""
    code, reason, message = closing(over, settings)
    log.log(logging.WARNING if loud else logging.DEBUG, "closing a socket of %s: %s", who, reason)
    with contextlib.suppress(Exception):  # it may be gone already; we are leaving either way
        if ws.client_state == WebSocketState.CONNECTED:
            await ws.send_text(notice(message, False))
        await ws.close(code=code, reason=reason)
