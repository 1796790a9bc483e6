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
SIDEBAR = "chat-sidebar"  # wide screens only
SIDEBAR_LIST = "sidebar-list"


def turn(k: int) -> str:
    return f"turn-{k}"


def user(k: int) -> str:
    return f"user-{k}"


def assistant(k: int) -> str:
    return f"assistant-{k}"


def versions(k: int) -> str:
    """The "‹ i/n ›" switch under a turn with more than one version."""
    return f"versions-{k}"


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


def open_piece(k: int, n: int, p: int) -> str:
    """The element of a text part's open block that grows (its last row, item or line: ui/open_block.py)."""
    return f"open-{k}-{n}-{p}"


def caret(k: int, n: int, p: int) -> str:
    """The empty element inside a text part's provisionally rendered tail where the next plain characters go."""
    return f"caret-{k}-{n}-{p}"


FILE_PREVIEW = "attachment-preview"  # the first rows of an attached table, under the chips
ATTACHMENTS = "chat-attachments"
FILES_BODY = "files-body"
