"""Chat folders kept beyond one kernel host: a store every host reaches, so a chat whose host died goes on elsewhere.

`LocalStore` is the one host's own disk (the folders themselves: nothing more to keep). `PgStore` keeps every file of
every chat folder in PostgreSQL, content-addressed in 1 MiB chunks (a file saved twice, or by two chats, is stored
once): after each cell and each change through the files API the host sends what changed (`save`), and a host that
takes a chat it has not served since it started first brings the folder back from it (`restore`).

Only regular files are kept, found without following links and read through directory descriptors, so a link or a
FIFO a cell planted is neither followed nor waited on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
from pathlib import Path
from typing import Any, Protocol

from varro.kernels.chats import ChatKey

log = logging.getLogger(__name__)

CHUNK = 2**20
Manifest = dict[bytes, tuple[int, int]]  # path relative to the folder (bytes) -> (size, mtime in ns)


class ChatStore(Protocol):
    async def save(self, key: ChatKey, folder: Path) -> None: ...
    async def restore(self, key: ChatKey, folder: Path) -> bool: ...
    async def delete(self, key: ChatKey) -> None: ...
    async def close(self) -> None: ...


class LocalStore:
    """One host: its disk is the store."""

    async def save(self, key: ChatKey, folder: Path) -> None:
        return None

    async def restore(self, key: ChatKey, folder: Path) -> bool:
        return False

    async def delete(self, key: ChatKey) -> None:
        return None

    async def close(self) -> None:
        return None


def scan(folder: Path) -> Manifest:
    """Every regular file under `folder`, links neither followed nor kept; iterative, any depth, any bytes in names."""
    found: Manifest = {}
    root = os.fsencode(folder)
    stack = [b""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, rel) if rel else root))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(rel, entry.name) if rel else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(path)
            elif stat.S_ISREG(st.st_mode):
                found[path] = (st.st_size, st.st_mtime_ns)
    return found


def open_beneath(folder: Path, rel: bytes) -> int | None:
    """An fd of the regular file `rel` under `folder`, every component opened without following a link, the file
    itself non-blocking (a FIFO swapped in is not waited on); None if it is not that any more."""
    parts = [p for p in rel.split(b"/") if p]
    if not parts or any(p in (b".", b"..") for p in parts):
        return None
    flags = os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | flags)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | flags, dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | flags, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(leaf).st_mode):
        os.close(leaf)
        return None
    return leaf


def read_chunks(folder: Path, rel: bytes, limit: int) -> list[bytes] | None:
    fd = open_beneath(folder, rel)
    if fd is None:
        return None
    chunks: list[bytes] = []
    total = 0
    with os.fdopen(fd, "rb") as f:
        while total < limit and (chunk := f.read(min(CHUNK, limit - total))):
            chunks.append(chunk)
            total += len(chunk)
    return chunks


def write_file(folder: Path, rel: bytes, chunks: list[bytes]) -> None:
    """Write a restored file under `folder` (which this host just made: nothing of a cell's is in it yet)."""
    target = os.path.join(os.fsencode(folder), rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = target + b".restoring"
    with open(tmp, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    os.replace(tmp, target)


SCHEMA = """
CREATE TABLE IF NOT EXISTS varro_kstore_chunks (hash TEXT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS varro_kstore_files (
    space TEXT NOT NULL, user_id BIGINT NOT NULL, chat_id BIGINT NOT NULL, path BYTEA NOT NULL,
    size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, chunks TEXT[] NOT NULL,
    PRIMARY KEY (space, user_id, chat_id, path));
"""


class PgStore:
    """Chat folders in PostgreSQL (VARRO_KERNEL_STORE=postgresql://...), shared by every kernel host."""

    def __init__(self, pool: Any, limit: int) -> None:
        self._pool = pool
        self._limit = limit  # the largest file kept (a chat's quota)
        self._locks: dict[ChatKey, asyncio.Lock] = {}

    @classmethod
    async def open(cls, url: str, limit: int) -> PgStore:
        import asyncpg  # only where the store is PostgreSQL

        pool = await asyncpg.create_pool(url.replace("postgresql+asyncpg://", "postgresql://"), min_size=1, max_size=4)
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock(727001)")  # two hosts starting at once: one creates
            try:
                await conn.execute(SCHEMA)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(727001)")
        return cls(pool, limit)

    async def close(self) -> None:
        await self._pool.close()

    def _lock(self, key: ChatKey) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def _known(self, conn: Any, key: ChatKey) -> Manifest:
        rows = await conn.fetch("SELECT path, size, mtime_ns FROM varro_kstore_files WHERE space=$1 AND user_id=$2 "
                                "AND chat_id=$3", key.space, key.user_id, key.chat_id)
        return {bytes(r["path"]): (r["size"], r["mtime_ns"]) for r in rows}

    async def save(self, key: ChatKey, folder: Path) -> None:
        """What changed in the folder since the last save goes to the store; what went is forgotten there."""
        async with self._lock(key), self._pool.acquire() as conn:
            now = await asyncio.to_thread(scan, folder)
            known = await self._known(conn, key)
            for rel, (size, mtime) in now.items():
                if known.get(rel) == (size, mtime):
                    continue
                chunks = await asyncio.to_thread(read_chunks, folder, rel, self._limit)
                if chunks is None:
                    continue
                hashes = [hashlib.sha256(c).hexdigest() for c in chunks]
                async with conn.transaction():
                    await conn.executemany("INSERT INTO varro_kstore_chunks (hash, data) VALUES ($1, $2) "
                                           "ON CONFLICT DO NOTHING", list(zip(hashes, chunks, strict=True)))
                    await conn.execute(
                        "INSERT INTO varro_kstore_files (space, user_id, chat_id, path, size, mtime_ns, chunks) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (space, user_id, chat_id, path) DO UPDATE "
                        "SET size=EXCLUDED.size, mtime_ns=EXCLUDED.mtime_ns, chunks=EXCLUDED.chunks",
                        key.space, key.user_id, key.chat_id, rel, size, mtime, hashes)
            if gone := [rel for rel in known if rel not in now]:
                await conn.execute("DELETE FROM varro_kstore_files WHERE space=$1 AND user_id=$2 AND chat_id=$3 AND "
                                   "path = ANY($4::bytea[])", key.space, key.user_id, key.chat_id, gone)

    async def restore(self, key: ChatKey, folder: Path) -> bool:
        """Make `folder` what the store holds for the chat; False (the folder untouched) if it holds nothing."""
        async with self._lock(key), self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT path, chunks FROM varro_kstore_files WHERE space=$1 AND user_id=$2 AND "
                                    "chat_id=$3", key.space, key.user_id, key.chat_id)
            if not rows:
                return False
            await asyncio.to_thread(_empty, folder)
            for row in rows:
                data = await conn.fetch("SELECT hash, data FROM varro_kstore_chunks WHERE hash = ANY($1::text[])",
                                        row["chunks"])
                by_hash = {r["hash"]: bytes(r["data"]) for r in data}
                await asyncio.to_thread(write_file, folder, bytes(row["path"]), [by_hash[h] for h in row["chunks"]])
            log.info("chat %s: %d files brought back from the store", key, len(rows))
            return True

    async def delete(self, key: ChatKey) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM varro_kstore_files WHERE space=$1 AND user_id=$2 AND chat_id=$3",
                               key.space, key.user_id, key.chat_id)
            # Chunks no file refers to any more go too (another chat may share one: kept then).
            await conn.execute("DELETE FROM varro_kstore_chunks c WHERE NOT EXISTS (SELECT 1 FROM varro_kstore_files f "
                               "WHERE c.hash = ANY(f.chunks))")


def _empty(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


async def open_store(url: str, limit: int) -> ChatStore:
    """VARRO_KERNEL_STORE: "" (this host's disk) or a PostgreSQL URL."""
    if url.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
        return await PgStore.open(url, limit)
    if url:
        raise SystemExit(f"varro.kernels: VARRO_KERNEL_STORE must be empty or a PostgreSQL URL, not {url[:40]!r}")
    return LocalStore()
