"""Who is asking: the host app signs users in and puts `user_id` in the session; we read it.

In demo mode (VARRO_DEMO_USER set, the default when run standalone) a visitor without a user is
signed in as the demo user. Every unsafe request must pass `app.csrf` (its origin, or the session's token).
"""

from __future__ import annotations

from fasthtml.common import Beforeware, Response
from starlette.requests import Request

from app.csrf import request_is_ours, session_token
from app.state import VarroState
from app.urls import DEFAULT_PREFIX


def chat_beforeware(prefix: str = DEFAULT_PREFIX) -> Beforeware:
    """Puts `user_id` and the user's scoped chats on the request for every route under `prefix`."""
    # A shared link's page and its files are for anyone with the token (app/share.py); continuing needs a user.
    skip = [rf"{prefix}/static/.*", rf"{prefix}/shared/[A-Za-z0-9_-]+", rf"{prefix}/shared/[A-Za-z0-9_-]+/files/.*"]

    async def before(req: Request, sess) -> Response | None:
        if req.url.path != prefix and not req.url.path.startswith(prefix + "/"):
            return None  # a host route: not ours to guard
        state: VarroState = req.app.state.varro
        user_id = sess.get("user_id")
        if user_id is None and state.demo_user_id is not None:
            sess.clear()  # a fresh session on sign-in: nothing planted before it (session fixation) carries over
            sess["user_id"] = user_id = state.demo_user_id
        if not isinstance(user_id, int):
            return Response("Sign in to use the chat.", status_code=401)
        token = session_token(sess, user_id)
        if not await request_is_ours(req, token, state.settings.allowed_origins):
            return Response("This request did not come from the chat's own page, so it was refused.", status_code=403)
        req.scope["csrf"] = token
        req.scope["user_id"] = user_id
        req.scope["chats"] = state.store.chats.for_user(user_id)
        return None

    return Beforeware(before, skip=skip)
