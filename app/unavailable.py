"""When the database or Redis can't be reached: a page saying so (503, try again), not a traceback.

Nothing is lost by it: a turn is written in one transaction when it ends, so a failed request stored nothing
half-way, and what was stored before is where it was.
"""

from __future__ import annotations

import logging

from fasthtml.common import H1, Body, Head, Html, Main, P, Title, to_xml
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import HTMLResponse

from varro.scale.coordinator import Unavailable

log = logging.getLogger(__name__)

# A refused connection (the service is down) comes as ConnectionError from the driver, unwrapped.
OUTAGES: tuple[type[Exception], ...] = (DBAPIError, ConnectionError, Unavailable)
MESSAGE = "The chat service is unavailable right now. Nothing stored was lost: try again in a moment."


async def service_unavailable(request: Request, exc: Exception) -> HTMLResponse:
    log.warning("%s %s: a service is unreachable: %s", request.method, request.url.path, exc)
    page = Html(Head(Title("Unavailable")), Body(Main(H1("Unavailable"), P(MESSAGE, data_testid="unavailable"))))
    return HTMLResponse(to_xml(page), status_code=503, headers={"Retry-After": "5"})
