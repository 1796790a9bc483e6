"""What the latest turn emitted, compacted, so a tab that (re)connects can catch up.

The log is kept after the turn ends, until the next one starts: a page loaded just before the turn
was stored, whose socket connects just after, must still get it.
"""

from __future__ import annotations

from dataclasses import replace

from varro.chat.events import Event, PartDelta, TurnStarted


class InflightLog:
    """Events of the running turn; consecutive deltas to one part are kept as one growing list of chunks."""

    def __init__(self) -> None:
        self._events: list[Event | list[str]] = []
        self._addr: tuple[int, int, int] | None = None  # the part the last chunk list belongs to

    def record(self, event: Event) -> None:
        if isinstance(event, TurnStarted):
            self._events, self._addr = [event], None
        elif not self._events:
            return
        elif isinstance(event, PartDelta):
            addr = (event.turn, event.node, event.part)
            if addr == self._addr:
                self._events[-1].append(event.text)  # type: ignore[union-attr]
            else:
                self._events += [event, [event.text]]
                self._addr = addr
        else:
            self._events.append(event)
            self._addr = None

    def snapshot(self, known: int) -> list[Event]:
        """The turn so far as events a page that shows turns below `known` can render (appended, never replacing)."""
        if not self._events or self._events[0].turn < known:  # type: ignore[union-attr]
            return []
        out: list[Event] = []
        for item in self._events:
            if isinstance(item, list):
                head = out.pop()
                assert isinstance(head, PartDelta)
                out.append(replace(head, text="".join(item)))
            elif isinstance(item, TurnStarted):
                out.append(replace(item, replaces=False))
            else:
                out.append(item)
        return out
