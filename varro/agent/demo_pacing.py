"""How the demo model's answers are paced and held open: a token every `1/tps` seconds against a deadline, and
gates (files a test creates) that keep an answer going until the test lets it end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from varro.agent import demo_text as txt

# Above this rate a sleep per token is shorter than the event loop's timer resolution: just don't pace.
MAX_PACED_TPS = 100_000.0
GATE_TICK_S = 0.05  # an answer held at its gate goes on one chunk at a time, this far apart
MAX_HELD_CHUNKS = 100_000  # filler words for an answer held at its gate (full stops after that)


@dataclass(frozen=True)
class Gates:
    """A folder of gates a test opens: gate `name` is open once the file `name` exists in it (any process may
    create it, so a test holds an answer open in a server it runs as a subprocess as well as in its own)."""

    folder: Path

    def is_open(self, name: str) -> bool:
        return (self.folder / name).exists()

    def open(self, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).touch()

    async def wait(self, name: str) -> None:
        while not self.is_open(name):
            await asyncio.sleep(GATE_TICK_S)


async def held_chunks(gates: Gates | None, gate: str | None, seed: int) -> AsyncIterator[str]:
    """After the reply's own chunks: while its gate is shut, one more chunk every GATE_TICK_S (the answer is
    visibly still being written), until the gate opens. Without gates (or a gate), nothing: the answer ends."""
    if gates is None or gate is None:
        return
    filler = txt.filler_tokens(MAX_HELD_CHUNKS, seed)
    while not gates.is_open(gate):
        await asyncio.sleep(GATE_TICK_S)
        yield " " + next(filler, ".").strip()


class Pacer:
    """Spaces tokens `1/tps` apart against a deadline, so timer overshoot doesn't accumulate."""

    def __init__(self, tps: float) -> None:
        self.interval = 1.0 / tps if 0 < tps < MAX_PACED_TPS else 0.0
        self.start: float | None = None
        self.count = 0

    async def tick(self) -> None:
        """Wait until the next token is due."""
        now = time.monotonic()
        if self.start is None:
            self.start = now
        elif self.interval:
            delay = self.start + self.count * self.interval - now
            if delay > 0:
                await asyncio.sleep(delay)
        elif self.count % 256 == 0:
            # Unpaced, a long stream would otherwise hold the event loop until it ends.
            await asyncio.sleep(0)
        self.count += 1
