"""The FastHTML app with our locally served browser libraries: htmx 2, its ws extension, Alpine, DaisyUI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fasthtml.common import FastHTML, Link, Meta, Script

STATIC_URL = "/chat/static"

# htmx would otherwise inject an inline <style>, which our Content-Security-Policy forbids.
HTMX_CONFIG = {"includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False}


def chat_headers(static_url: str = STATIC_URL, asset: Callable[[str], str] | None = None) -> tuple[Any, ...]:
    """The <head> elements the chat page needs; a host app adds these to its own headers. `asset` maps a path under
    static/ to its URL (`app.assets.asset_url(static_url)`: content-hashed, cached for a year); by default the plain
    URL. Every script is deferred, so none holds up the first paint, except theme.js: it is a few bytes, and it must
    set the remembered theme before that paint."""
    url = asset or (lambda rel: f"{static_url}/{rel}")
    return (
        Meta(charset="utf-8"),
        Meta(name="viewport", content="width=device-width, initial-scale=1, viewport-fit=cover"),
        Meta(name="htmx-config", content=json.dumps(HTMX_CONFIG)),
        Link(rel="icon", href=url("favicon.svg"), type="image/svg+xml"),
        Link(rel="stylesheet", href=url("vendor/app.css")),
        Link(rel="stylesheet", href=url("css/pygments.css")),
        Script(src=url("js/theme.js")),
        *(Script(src=url(rel), defer=True) for rel in SCRIPTS),
    )


# In this order: htmx before its ws extension, our files before Alpine (they register on `alpine:init`).
SCRIPTS = ("vendor/htmx.min.js", "vendor/ws.js", "js/files.js", "js/charts.js", "js/tables.js", "js/stream-frames.js",
           "js/earlier.js", "js/follow.js", "js/blocks.js", "js/keys.js", "js/turns.js", "js/chat.js", "js/widgets.js",
           "js/turn-keys.js", "vendor/alpine-csp.min.js")


def daisy_app(*, static_url: str = STATIC_URL, hdrs: tuple[Any, ...] = (), asset: Callable[[str], str] | None = None,
              **kwargs: Any) -> tuple[FastHTML, Any]:
    """A FastHTML app with the chat's headers and no CDN: FastHTML's defaults would load htmx from one."""
    app = FastHTML(default_hdrs=False, canonical=False, hdrs=(*chat_headers(static_url, asset), *hdrs), **kwargs)
    return app, app.route
