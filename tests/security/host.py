"""A host app for the security tests, served the way `python -m app` serves the chat (same uvicorn options).

It owns login (`GET /login/{name}` signs the visitor in as that user, like tests/unit/test_routes.py's host)
so that many distinct users can connect, and it measures its own event-loop lag: `GET /_lag` gives the
percentiles since the last `DELETE /_lag`.

Run as `python -m tests.security.host` with the usual `VARRO_*` variables (tests.e2e.server.run_server).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from pathlib import Path

import uvicorn
from fasthtml.common import FastHTML
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.__main__ import uvicorn_options
from app.mount import mount_chat
from ui.core import chat_headers
from varro.config import Settings

LAG_TICK_S = 0.01


class LagMonitor:
    """Sleeps `LAG_TICK_S` over and over; how late each wake-up is, is how long the loop was blocked."""

    def __init__(self) -> None:
        self.samples: deque[float] = deque(maxlen=500_000)
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(LAG_TICK_S)
            self.samples.append(max(0.0, time.perf_counter() - start - LAG_TICK_S))

    def summary(self) -> dict[str, float]:
        data = sorted(self.samples)
        if len(data) < 2:
            return {"n": len(data), "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        q = statistics.quantiles(data, n=100, method="inclusive")
        return {"n": len(data), "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "max_ms": data[-1] * 1000}


def create_host_app(settings: Settings) -> FastHTML:
    # The signing key in a file beside the database, as the standalone app keeps it: the sandbox tests try to read it.
    key_file = Path(settings.uploads_dir).parent / ".sesskey"
    app = FastHTML(default_hdrs=False, hdrs=chat_headers(), secret_key=settings.secret_key, key_fname=str(key_file))
    mount_chat(app, settings)
    lag = LagMonitor()

    @app.route("/login/{name}")
    async def login(req: Request, sess, name: str) -> str:  # noqa: ANN001  (FastHTML injects `sess` by its name, unannotated)
        user = await req.app.state.varro.store.users.ensure(name)
        sess["user_id"] = user.id
        return f"signed in as {user.id}"

    @app.route("/_lag", methods=["get", "delete"])
    async def lag_report(req: Request) -> JSONResponse:
        if req.method == "DELETE":
            lag.samples.clear()
        return JSONResponse(lag.summary())

    async def start_lag() -> None:
        lag.task = asyncio.create_task(lag.run())

    async def stop_lag() -> None:
        if lag.task is not None:
            lag.task.cancel()

    app.on_event("startup")(start_lag)
    app.on_event("shutdown")(stop_lag)
    return app


def main() -> None:
    settings = Settings(demo_user=None)
    uvicorn.run(create_host_app(settings), log_level="warning", **uvicorn_options(settings))


if __name__ == "__main__":
    main()
