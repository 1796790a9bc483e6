"""Cross-site request forgery: a request that changes state must come from the chat's own pages.

SameSite=Lax is not enough: a page on another port of the same host is *same-site*, so the browser sends it
our session cookie with every form it posts. So every unsafe request is checked here, in this order:

1. `Origin` (browsers send it on every POST): our own origin (its host:port is the Host header) or one in
   `VARRO_ALLOWED_ORIGINS`; anything else, `null` included, is refused.
2. Without `Origin`, `Sec-Fetch-Site` must say `same-origin` (`same-site` is exactly the attack).
3. Without either (an old browser, a script): the session's token, as the `X-CSRF-Token` header (htmx sends it
   from the page's `hx-headers`) or the `csrf` form field (the page's plain forms carry it).

The token is per session, and new whenever the signed-in user changes: one planted before a sign-in (a cookie
set from a same-site page) is worthless after it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_KEY = "varro_csrf"  # in the session: the token ...
OWNER_KEY = "varro_csrf_user"  # ... and the user it was made for
HEADER = "x-csrf-token"
FIELD = "csrf"


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """Same origin (the Origin's host:port is the Host header), or one listed in VARRO_ALLOWED_ORIGINS."""
    if not origin or origin == "null":
        return False
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host


def session_token(sess: dict[str, Any], user_id: int) -> str:
    """The session's token for `user_id`: made on first use, and made anew when the user changes."""
    token = sess.get(TOKEN_KEY)
    if sess.get(OWNER_KEY) != user_id or not isinstance(token, str):
        token = sess[TOKEN_KEY] = secrets.token_urlsafe(32)
        sess[OWNER_KEY] = user_id
    return token


def browser_verdict(headers: Mapping[str, str], allowed: Sequence[str]) -> bool | None:
    """What the browser's own headers say about where the request comes from; None when it sent neither."""
    if (origin := headers.get("origin")) is not None:
        return origin_allowed(origin, headers.get("host"), allowed)
    if (site := headers.get("sec-fetch-site")) is not None:
        return site == "same-origin"
    return None


async def request_is_ours(req: Request, token: str, allowed: Sequence[str]) -> bool:
    """True for a safe method, a request from our own pages, or one carrying the session's token."""
    if req.method in SAFE_METHODS:
        return True
    verdict = browser_verdict(req.headers, allowed)
    if verdict is not None:
        return verdict
    sent = req.headers.get(HEADER) or (await req.form()).get(FIELD)
    return isinstance(sent, str) and hmac.compare_digest(sent, token)
