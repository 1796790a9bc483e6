"""`python -m app`: serve the standalone chat with uvicorn on VARRO_HOST:VARRO_PORT; `python -m app migrate`
brings the database's schema up to date (start-up does it too) and exits; `--workers N` serves with N processes
on one port (they need VARRO_REDIS_URL to act as one app)."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

# Only what start-up needs before the kernel host is started: the rest of the app (app.main, the database's
# migrations: seconds of imports) is imported while the host starts beside it, after the drop from root.
from app.exposure import UnsafeExposure, check_exposure
from app.launch import ready, split_tiers
from app.session_key import session_key_file
from varro.chat.protocol import max_frame_size
from varro.config import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn should serve the chat; a host app running its own uvicorn passes these too.

    `ws_max_size` is the largest frame a valid message can make: uvicorn closes a socket sending more
    (code 1009) before reading it into memory, and everything below gets a clear answer from the parser.
    Proxy headers are believed from VARRO_TRUSTED_PROXIES only (uvicorn's own default trusts any loopback peer),
    so its log and the chat's budgets per address agree on who the client is.
    """
    proxies = settings.trusted_proxies.strip()
    return {"host": settings.host, "port": settings.port, "ws_max_size": max_frame_size(settings.max_message_chars),
            "timeout_graceful_shutdown": 5, "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


class AnnouncingServer(uvicorn.Server):
    """uvicorn, printing the address only once it accepts connections (a first start can take a while)."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            s = self.settings
            print(f"Varro Chat is ready on http://{s.host}:{s.port}  (model: {s.model})", flush=True)


def serve_workers(settings: Settings, workers: int) -> None:
    """N processes on one port: the schema is migrated once here, before any of them starts."""
    from varro.db.migrate import upgrade_head

    if not settings.redis_url:
        raise SystemExit("--workers needs VARRO_REDIS_URL: without Redis each process would hold its own sessions")
    upgrade_head()
    # No turn is stopped here: a turn stored `running` may be another process's (on another host) that is writing it.
    # One a crash left behind is stopped by the process that opens its chat (varro/chat/opening.py).
    if not settings.secret_key:  # one cookie key for all: each worker would otherwise race to write its own
        key_file = session_key_file(settings)
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
        os.environ["VARRO_SECRET_KEY"] = key_file.read_text().strip()
    print(f"Varro Chat: {workers} processes on http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run("app.main:create_app", factory=True, workers=workers, log_level="info", **uvicorn_options(settings))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve Varro Chat (settings: VARRO_*).")
    parser.add_argument("command", nargs="?", choices=["serve", "migrate"], default="serve")
    parser.add_argument("--workers", type=int, default=1, help="processes serving the one port (needs Redis)")
    args = parser.parse_args()
    if args.command == "migrate":
        from varro.db.migrate import upgrade_head

        upgrade_head()
        return
    settings = Settings()
    try:
        check_exposure(settings)
    except UnsafeExposure as refused:  # before binding anything: one clear sentence, no traceback
        raise SystemExit(f"Varro Chat did not start: {refused}") from None
    # Started as root: the kernel host starts (as root) while this process, now VARRO_USER, imports the app.
    local = split_tiers(settings, wait=False)
    try:
        serve(settings, args.workers, host_ready=(lambda: ready(local)) if local is not None else None)
    finally:
        if local is not None:
            local.stop()


def serve(settings: Settings, workers: int, host_ready: Callable[[], None] | None = None) -> None:
    """Serve with `workers` processes; `host_ready` waits for a kernel host still starting, once the app is built."""
    if workers > 1:
        import app.main  # noqa: F401  (what the workers import, here while the host starts)

        if host_ready is not None:
            host_ready()
        serve_workers(settings, workers)
        return
    from app.main import create_app

    config = uvicorn.Config(create_app(settings), log_level="info", **uvicorn_options(settings))
    if host_ready is not None:
        host_ready()
    try:
        AnnouncingServer(config, settings).run()
    except KeyboardInterrupt:  # Ctrl+C before uvicorn's own handler is in place: quiet, as uvicorn.run is
        pass


if __name__ == "__main__":
    main()
