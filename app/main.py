"""The standalone app: the chat module mounted on a bare FastHTML app, with the demo user."""

from __future__ import annotations

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import RedirectResponse

from app.assets import asset_url
from app.exposure import check_exposure
from app.mount import mount_chat
from app.session_key import session_key_file
from app.urls import DEFAULT_PREFIX, ChatUrls
from ui.core import daisy_app
from varro.config import Settings


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
