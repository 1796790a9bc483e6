"""Security headers on the chat's HTTP responses: a strict Content-Security-Policy and a few companions.

The policy is the second line of defence behind escaping and the sanitizer (ui/markdown.py): even if
markup from a model got into the page, the browser would run no inline script or handler, load nothing
from another origin, and send nothing elsewhere. The page is built for it: every script is a file under
/chat/static, Alpine is its CSP build, htmx has `allowEval` off and injects no inline style.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.urls import DEFAULT_PREFIX

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",  # no 'unsafe-inline', no 'unsafe-eval': inline <script> and on* handlers never run
    "style-src 'self'",  # stylesheets from our files only; Alpine's x-show sets style through the CSSOM, which is allowed
    # Uploads are ours; DaisyUI's stylesheet draws a few icons from data: URLs; a chart's "Download plot as a png"
    # draws its SVG through a blob: URL (one only our own scripts can make).
    "img-src 'self' data: blob:",
    "connect-src 'self'",  # the websocket is same-origin ('self' covers ws: and wss: of this host)
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware: add `headers` to every HTTP response under `prefix` that does not set them itself
    (an upload keeps its own stricter `sandbox` policy)."""

    def __init__(self, app: ASGIApp, prefix: str = DEFAULT_PREFIX, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.prefix = prefix
        self.headers = HEADERS if headers is None else headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (path != self.prefix and not path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
