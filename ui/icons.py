"""A few line icons (paths from the Lucide set, ISC licence), drawn with FT's SVG elements."""

from __future__ import annotations

from typing import Any

from fasthtml.svg import Path, Svg

PATHS = {
    "menu": ["M4 6h16", "M4 12h16", "M4 18h16"],
    "plus": ["M12 5v14", "M5 12h14"],
    "trash": ["M3 6h18", "M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6", "M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2"],
    "send": ["M22 2 11 13", "M22 2 15 22l-4-9-9-4 20-7z"],
    "stop": ["M6 6h12v12H6z"],
    "edit": ["M12 20h9", "M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4Z"],
    "copy": ["M8 8h12v12H8z", "M4 16V4h12"],
    "refresh": ["M20 12a8 8 0 1 1-2.3-5.7", "M20 4v5h-5"],
    "sun": ["M12 3v2", "M12 19v2", "M3 12h2", "M19 12h2", "M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8z"],
    "moon": ["M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z"],
    "paperclip": ["M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l8.57-8.57A4 4 0 1 1 18 8.84l-8.59 8.57a2 2 0 0 1-2.83-2.83l8.49-8.48"],
    "download": ["M12 3v12", "M7 10l5 5 5-5", "M5 21h14"],
    "clock": ["M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z", "M12 6v6l4 2"],
    "alert": ["M12 2 1 21h22L12 2z", "M12 9v4", "M12 17h.01"],
}


def Icon(name: str, size: int = 18, **kw: Any) -> Any:
    """An inline, decorative (aria-hidden) icon."""
    return Svg(
        *[Path(d=d) for d in PATHS[name]],
        width=size, height=size, viewBox="0 0 24 24", fill="none", stroke="currentColor", stroke_width="2",
        stroke_linecap="round", stroke_linejoin="round", aria_hidden="true", **kw,
    )
