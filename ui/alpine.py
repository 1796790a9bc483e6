"""Alpine directives as keyword arguments: FT turns `_` into `-`, but Alpine needs `x-on:` and `x-bind:`."""

from __future__ import annotations


def on(event: str, handler: str) -> dict[str, str]:
    """`**on("keydown.escape", "cancel")` gives `x-on:keydown.escape="cancel"`."""
    return {f"x-on:{event}": handler}


def bind(attr: str, expr: str) -> dict[str, str]:
    return {f"x-bind:{attr}": expr}
