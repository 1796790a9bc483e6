"""A light page: static files under content-hashed URLs cached for a year, gzip made once per file, compressed pages.

`Assets` serves `static/` at the chat's static URL. A name with the first 12 hex digits of the file's SHA-256 before
its extension (`vendor/htmx.min.1a2b3c4d5e6f.js`, built by `asset_url`) is the file with that content: it is sent
with `Cache-Control: public, max-age=31536000, immutable`, so a browser never asks again; a release that changes the
file changes its URL. The plain name (and a hash that is no longer the file's) keeps working, revalidated each time
(`no-cache` with an ETag). Text files go out gzip-compressed, compressed once (in a thread) and kept.

`Compressed` gzips the chat's own pages and fragments (HTML, JSON, text); images and downloads go as they are, and
the websocket is not HTTP, so its frames are untouched.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = {".css", ".js", ".mjs", ".json", ".svg", ".txt", ".html", ".map"}
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")
_DIGEST_KEY = "varro.asset_digest"


@dataclass(frozen=True)
class Asset:
    """One file as served: its content digest, and its gzip form if it is text (None otherwise)."""

    mtime_ns: int
    size: int
    digest: str
    gz: bytes | None


class Assets(StaticFiles):
    """StaticFiles with content-hashed names, immutable caching for them, and gzip made once per file."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        # Following links: `static/vendor` may be a link to a shared build of the browser libraries.
        super().__init__(directory=directory, follow_symlink=True)
        self.root = directory
        self._known: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def asset(self, full_path: str, st: os.stat_result) -> Asset:
        """The file's digest and gzip form, made once per version of the file (blocking: call it in a thread)."""
        known = self._known.get(full_path)
        if known is not None and (known.mtime_ns, known.size) == (st.st_mtime_ns, st.st_size):
            return known
        with self._lock:
            known = self._known.get(full_path)
            if known is not None and (known.mtime_ns, known.size) == (st.st_mtime_ns, st.st_size):
                return known  # made by another thread while this one waited
            data = Path(full_path).read_bytes()
            gz = gzip.compress(data, 9, mtime=0) if Path(full_path).suffix in COMPRESSIBLE else None
            made = Asset(st.st_mtime_ns, st.st_size, hashlib.sha256(data).hexdigest()[:12], gz)
            self._known[full_path] = made
            return made

    def url(self, static_url: str, rel: str) -> str:
        """`rel` (a path under static/) at its content-hashed URL; the plain URL if the file is not there."""
        full = self.root / rel
        try:
            st = full.stat()
        except OSError:
            return f"{static_url}/{rel}"
        digest = self.asset(str(full), st).digest
        stem, dot, ext = rel.rpartition(".")
        return f"{static_url}/{stem}.{digest}.{ext}" if dot else f"{static_url}/{rel}"

    def get_path(self, scope: Scope) -> str:
        path = super().get_path(scope)
        head, _, name = path.rpartition(os.sep)
        if m := _HASHED.match(name):
            scope[_DIGEST_KEY] = m["digest"]
            return os.path.join(head, m["stem"] + m["ext"]) if head else m["stem"] + m["ext"]
        return path

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        try:
            full_path, st = await anyio.to_thread.run_sync(self.lookup_path, path)
        except (OSError, ValueError):
            raise HTTPException(status_code=404) from None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise HTTPException(status_code=404)
        asset = await anyio.to_thread.run_sync(self.asset, full_path, st)
        request = Headers(scope=scope)
        zipped = asset.gz is not None and "gzip" in request.get("accept-encoding", "")
        headers = {
            "cache-control": IMMUTABLE if scope.get(_DIGEST_KEY) == asset.digest else REVALIDATE,
            "etag": f'"{asset.digest}{"-gz" if zipped else ""}"',
            "vary": "accept-encoding",
        }
        if headers["etag"] in [t.strip().removeprefix("W/") for t in request.get("if-none-match", "").split(",")]:
            return NotModifiedResponse(Headers(headers))
        if zipped:
            assert asset.gz is not None
            media_type = mimetypes.guess_type(full_path)[0] or "application/octet-stream"
            return Response(asset.gz, media_type=media_type, headers={**headers, "content-encoding": "gzip"})
        return FileResponse(full_path, stat_result=st, headers=headers)


# Images and downloads are compressed already, or are a user's bytes to hand over as they are.
NOT_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "image/*", "application/octet-stream")


ASSETS = Assets()  # one per process: the page's <head> and the static route agree on every digest


def asset_url(static_url: str) -> Callable[[str], str]:
    """`rel -> its content-hashed URL under static_url`, for `ui.core.chat_headers(asset=...)`."""
    return lambda rel: ASSETS.url(static_url, rel)


class Compressed:
    """ASGI middleware: gzip HTTP responses under `prefix` (pages, fragments, JSON) for clients that accept it."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.gzip = GZipMiddleware(app, minimum_size=500, compresslevel=6, exclude_content_types=NOT_COMPRESSED)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        under = path == self.prefix or path.startswith(self.prefix + "/")
        await (self.gzip if scope["type"] == "http" and under else self.app)(scope, receive, send)
