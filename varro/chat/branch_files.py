"""Files follow the branch shown: when a switch of versions or an edit changes the shown path, the files the cells
of the path left behind are put back as that path last wrote them, and the files only the other branch wrote leave.

Every file a cell writes is kept by content hash in the uploads store (`UploadStore.save_file`) and named in the
turn's attachments, so a path's files are a fold over its turns: the last copy of each name wins. A name the path
has but holds no copy of (an upload, or a write past the chat's copy cap) is left as it is on disk, and a file is
only taken away when a copy of it is kept, so that switching back can bring it again: nothing the user could not
get back is ever removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_ai.messages import ModelRequest, ToolReturnPart

from varro.chat.cells import TOOL_NAME
from varro.chat.content import attachments_of, files_of, messages_of
from varro.db.models import Turn
from varro.files import UploadRefused
from varro.shell.host import HostLost
from varro.shell.hosts import KernelHosts
from varro.uploads import UploadStore

log = logging.getLogger(__name__)

CHUNK = 1 << 20
UNKEPT = None  # the path has this name but no copy of it: what is on disk stays
Files = dict[str, str | None]  # name -> its last copy on the path (a path in the uploads store), or UNKEPT


def written(turn: Turn) -> Files:
    """The files the cells of one turn wrote, in the order they ran: name -> the copy kept (UNKEPT past the cap)."""
    copies = attachments_of(turn.content)
    found: Files = {}
    for message in messages_of(turn.content):
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if not (isinstance(part, ToolReturnPart) and part.tool_name == TOOL_NAME):
                continue
            kept = {a.name: a.path for a in copies.get(part.tool_call_id, []) if a.name is not None}
            names = part.metadata.get("files", []) if isinstance(part.metadata, dict) else []
            for name in names:
                found[name] = kept.get(name, UNKEPT)
    return found


def files_of_path(turns: Iterable[Turn]) -> Files:
    """What the path's turns leave in the folder, as far as the chat knows: uploads (UNKEPT), then each cell's writes."""
    files: Files = {}
    for turn in turns:
        files.update({f.name: UNKEPT for f in files_of(turn.content)})
        files.update(written(turn))
    return files


@dataclass(frozen=True)
class Plan:
    """What changes in the folder: files put back (name -> copy) and files taken away."""

    put: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.put or self.remove)


def plan(old: Sequence[Turn], new: Sequence[Turn]) -> Plan:
    """From the folder the `old` path left to the one the `new` path leaves. Only names a turn below the point where
    the paths part wrote are touched: above it the paths are one."""
    shared = 0
    while shared < min(len(old), len(new)) and old[shared].id == new[shared].id:
        shared += 1
    was, wants = files_of_path(old), files_of_path(new)
    touched = sorted({name for turn in [*old[shared:], *new[shared:]] for name in written(turn)})
    put = {name: copy for name in touched if (copy := wants.get(name)) is not None and copy != was.get(name)}
    # A name the new path never had goes only when the copy the old path made of it is kept (it can come back).
    remove = tuple(name for name in touched if name not in wants and was.get(name) is not None)
    return Plan(put, remove)


async def follow_path(was: Sequence[Turn], shown: Sequence[Turn], host: KernelHosts, uploads: UploadStore,
                      user_id: int, chat_id: int) -> None:
    """The chat's folder follows the path now shown, from the path `was`. A lost host leaves the folder as it was
    (the Files view says the host is lost); what could not be put back stays as it was, and is logged."""
    try:
        missed = await follow(plan(was, shown), host, uploads, user_id, chat_id)
    except HostLost as exc:
        log.warning("chat %s: files did not follow the branch: %s", chat_id, exc)
        return
    if missed:
        log.warning("chat %s: files not put back for the branch shown: %s", chat_id, missed)


async def follow(change: Plan, host: KernelHosts, uploads: UploadStore, user_id: int, chat_id: int) -> list[str]:
    """Carry out `change` in the chat's folder on its kernel host (no kernel runs then: the shell was reset); the
    names it could not put back, which stay as they were."""
    missed: list[str] = []
    for name in change.remove:
        await host.remove_file(user_id, chat_id, name)
    for name, copy in change.put.items():
        source = uploads.resolve(user_id, copy)
        if source is None:
            missed.append(name)
            continue
        await host.remove_file(user_id, chat_id, name)  # a put never overwrites: the name must be free
        try:
            # The copy's own size: it fitted the chat's quota when its cell wrote it, beside the same branch's files.
            placed = await host.put_file(user_id, chat_id, name, _read(source), source.stat().st_size)
        except (UploadRefused, HostLost) as exc:
            log.warning("could not put %r back in chat %s: %s", name, chat_id, exc)
            missed.append(name)
            continue
        if placed.name != name:  # code made the name again in between: the copy must not sit under another
            await host.remove_file(user_id, chat_id, placed.name)
            missed.append(name)
    return missed


async def _read(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:  # noqa: ASYNC230 - a local file, each read in a thread
        while data := await asyncio.to_thread(f.read, CHUNK):
            yield data
