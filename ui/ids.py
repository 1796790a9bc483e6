"""Every DOM id the server targets, in one place, so the server and `static/js/chat.js` agree."""

from __future__ import annotations

CHAT = "chat"
TURNS = "chat-turns"
SCROLL = "chat-scroll"
PROGRESS = "progress"
INPUT = "chat-input"
FORM = "chat-form"
TITLE = "chat-title"
NOTICES = "chat-notices"
MENU = "chat-menu-list"
SHELL_STATUS = "shell-status"
LOAD_EARLIER = "load-earlier"  # above the first shown turn of a long chat


def turn(k: int) -> str:
    return f"turn-{k}"


def user(k: int) -> str:
    return f"user-{k}"


def assistant(k: int) -> str:
    return f"assistant-{k}"


def meta(k: int) -> str:
    return f"meta-{k}"


def node(k: int, n: int) -> str:
    return f"node-{k}-{n}"


def block(k: int, n: int, p: int) -> str:
    """Part p of node n: its live element while it streams, then its finished block (live and on reload alike)."""
    return f"block-{k}-{n}-{p}"


def chunk(k: int, n: int, p: int, c: int) -> str:
    """Chunk c of a text part's rendered markdown blocks (see ui/nodes.py, CHUNK_BLOCKS)."""
    return f"chunk-{k}-{n}-{p}-{c}"


def part(k: int, n: int, p: int) -> str:
    """The live element a part's deltas are appended to (for text: the open tail); gone once the part is finished."""
    return f"part-{k}-{n}-{p}"


def caret(k: int, n: int, p: int) -> str:
    """The empty element inside a text part's provisionally rendered tail where the next plain characters go."""
    return f"caret-{k}-{n}-{p}"


ATTACHMENTS = "chat-attachments"
FILES_BODY = "files-body"
