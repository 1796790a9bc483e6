"""A host app for the security tests, served the way `python -m app` serves the chat (same uvicorn options).

It owns login (`GET /login/{name}` signs the visitor in as that user, like tests/unit/test_routes.py's host)
so that many distinct users can connect, and it serves the chat's event-loop lag monitor (app/lag.py): `GET /_lag`
gives the percentiles since the last `DELETE /_lag`.

Run as `python -m tests.security.host` with the usual `VARRO_*` variables (tests.e2e.server.run_server).
"""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fasthtml.common import FastHTML
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.__main__ import uvicorn_options
from app.mount import mount_chat
from ui.core import chat_headers
from varro.config import Settings


def create_host_app(settings: Settings) -> FastHTML:
    # The signing key in a file beside the database, as the standalone app keeps it: the sandbox tests try to read it.
    key_file = Path(settings.uploads_dir).parent / ".sesskey"
    app = FastHTML(default_hdrs=False, hdrs=chat_headers(), secret_key=settings.secret_key, key_fname=str(key_file))
    mount_chat(app, settings)

    @app.route("/login/{name}")
    async def login(req: Request, sess, name: str) -> str:  # noqa: ANN001  (FastHTML injects `sess` by its name, unannotated)
        user = await req.app.state.varro.store.users.ensure(name)
        sess["user_id"] = user.id
        return f"signed in as {user.id}"

    @app.route("/_lag", methods=["get", "delete"])
    async def lag_report(req: Request) -> JSONResponse:
        lag = req.app.state.varro.lag  # the chat's own monitor (app/lag.py)
        if req.method == "DELETE":
            lag.clear()
        return JSONResponse(lag.summary())

    return app


def main() -> None:
    settings = Settings(demo_user=None)
    uvicorn.run(create_host_app(settings), log_level="warning", **uvicorn_options(settings))


if __name__ == "__main__":
    main()
