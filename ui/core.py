"""The FastHTML app with our locally served browser libraries: htmx 2, its ws extension, Alpine, DaisyUI."""

from __future__ import annotations

import json
from typing import Any

from fasthtml.common import FastHTML, Link, Meta, Script

STATIC_URL = "/chat/static"

# htmx would otherwise inject an inline <style>, which our Content-Security-Policy forbids.
HTMX_CONFIG = {"includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False}


def chat_headers(static_url: str = STATIC_URL) -> tuple[Any, ...]:
    """The <head> elements the chat page needs; a host app adds these to its own headers."""
    v = f"{static_url}/vendor"
    return (
        Meta(charset="utf-8"),
        Meta(name="viewport", content="width=device-width, initial-scale=1, viewport-fit=cover"),
        Meta(name="htmx-config", content=json.dumps(HTMX_CONFIG)),
        Link(rel="icon", href=f"{static_url}/favicon.svg", type="image/svg+xml"),
        Link(rel="stylesheet", href=f"{v}/app.css"),
        Link(rel="stylesheet", href=f"{static_url}/css/pygments.css"),
        Script(src=f"{static_url}/js/theme.js"),
        Script(src=f"{v}/htmx.min.js"),
        Script(src=f"{v}/ws.js"),
        Script(src=f"{static_url}/js/files.js", defer=True),
        Script(src=f"{static_url}/js/charts.js", defer=True),
        Script(src=f"{static_url}/js/stream-frames.js", defer=True),
        Script(src=f"{static_url}/js/earlier.js", defer=True),
        Script(src=f"{static_url}/js/chat.js", defer=True),
        Script(src=f"{static_url}/js/turn-keys.js", defer=True),
        Script(src=f"{v}/alpine-csp.min.js", defer=True),
    )


def daisy_app(*, static_url: str = STATIC_URL, hdrs: tuple[Any, ...] = (), **kwargs: Any) -> tuple[FastHTML, Any]:
    """A FastHTML app with the chat's headers and no CDN: FastHTML's defaults would load htmx from one."""
    app = FastHTML(default_hdrs=False, canonical=False, hdrs=(*chat_headers(static_url), *hdrs), **kwargs)
    return app, app.route
