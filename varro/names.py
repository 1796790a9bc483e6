"""File names as pages and databases take them, shared by the web tier and the kernel host."""

from __future__ import annotations

import os


def shown(name: str | bytes) -> str:
    """A name as text any page or database takes: bytes that are not UTF-8 written as `\\xff` (one name never shows
    as another's), the rest unchanged."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return raw.decode("utf-8", errors="backslashreplace")
