"""The standalone app: the chat module mounted on a bare FastHTML app, with the demo user."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import RedirectResponse

from app.assets import asset_url
from app.mount import mount_chat
from app.urls import DEFAULT_PREFIX, ChatUrls
from ui.core import daisy_app
from varro.config import Settings


class UnsafeExposure(ValueError):
    """The settings would open the app to more than its operator can have meant: it refuses to start."""


def check_exposure(settings: Settings) -> None:
    """Refuse the two settings that turn any web page the user visits into code execution on this machine."""
    if settings.wildcard_bind and settings.allowed_hosts is None:
        raise UnsafeExposure(
            f"VARRO_HOST={settings.host or '(empty)'} listens on every address, so the app would answer any Host "
            "header: a web page could reach it through DNS rebinding. Set VARRO_ALLOWED_HOSTS to the names it is "
            'served under, e.g. VARRO_ALLOWED_HOSTS=\'["chat.example.org"]\'.')
    if settings.demo_user and not settings.loopback_bind and not settings.demo_on_network:
        raise UnsafeExposure(
            f"demo mode signs in anyone who opens the page as {settings.demo_user!r}, and the chat runs code; on "
            f"VARRO_HOST={settings.host or '(empty)'} that is anyone who can reach this machine. Mount the chat in an "
            "app that signs users in (and set VARRO_DEMO_USER= to empty), or set VARRO_DEMO_ON_NETWORK=1 if that is "
            "really what you want.")


def session_key_file(settings: Settings) -> Path:
    """Where the cookie key is kept when VARRO_SECRET_KEY is not set: made here, readable by its owner only
    (0600 whatever the umask), before FastHTML would write one of its own."""
    key_file = Path(settings.sqlite_path or "data/varro.db").parent / ".sesskey"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return key_file
    with os.fdopen(fd, "w") as f:
        f.write(str(uuid.uuid4()))
    return key_file


def create_app(settings: Settings | None = None):  # noqa: ANN201  (FastHTML app)
    settings = settings or Settings()
    check_exposure(settings)
    key_file = session_key_file(settings)
    # Over HTTPS the cookie is `__Host-`: Secure, Path=/, no Domain, so no other host or plain-HTTP page may set it.
    cookie = "__Host-session" if settings.https else "session_"
    app, rt = daisy_app(title="Varro Chat", secret_key=settings.secret_key, key_fname=str(key_file),
                        htmlkw={"lang": "en"}, session_cookie=cookie, sess_https_only=settings.https,
                        asset=asset_url(ChatUrls().static))
    mount_chat(app, settings)
    # Standalone, the app is on a developer's machine and runs code for whoever is signed in (the demo user:
    # anyone), so it answers only the Host names it knows (DNS rebinding). A host app does its own Host checking.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)

    @rt("/")
    def home() -> RedirectResponse:
        return RedirectResponse(DEFAULT_PREFIX, status_code=303)

    return app
