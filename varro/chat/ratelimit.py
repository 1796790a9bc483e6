"""Budgets a client spends from, so that no one user or client address can flood the server or crowd others out.

Each is kept per user or per client address, never per socket: closing a flooding socket and opening a new one
refills nothing, and neither does signing in as another account from the same address. They are kept in the
process (with several processes, per process, as the cap on runs is).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum

from varro.client_address import ClientAddresses
from varro.config import Settings


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take()` spends one, or says there is none."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock()

    def take(self) -> bool:
        self._refill()
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def wait(self) -> float:
        """Seconds until `take()` would succeed (0: now)."""
        self._refill()
        return max(0.0, (1 - self.tokens) / self.rate)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now


class Budgets:
    """A `TokenBucket` per key (a user id), kept across that key's sockets; `take(key)` spends one of its tokens.

    At most about `keep` buckets are held: past that, full ones are forgotten (a full bucket is a new one).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, keep: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.keep = keep
        self.buckets: dict[Hashable, TokenBucket] = {}

    def take(self, key: Hashable) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.keep:
                self._forget_full()
            bucket = self.buckets[key] = TokenBucket(self.rate, self.burst, self.clock)
        return bucket.take()

    def wait(self, key: Hashable) -> float:
        """Seconds until `take(key)` would succeed."""
        bucket = self.buckets.get(key)
        return 0.0 if bucket is None else bucket.wait()

    def _forget_full(self) -> None:
        now = self.clock()
        self.buckets = {k: b for k, b in self.buckets.items() if b.tokens + (now - b.last) * b.rate < b.burst}


class Sockets:
    """Sockets open at once per key (a client address), at most `cap` each."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open: dict[Hashable, int] = {}

    def enter(self, key: Hashable) -> bool:
        """Count one more socket of `key`, unless it has `cap` open already (then False, and nothing is counted)."""
        if self.open.get(key, 0) >= self.cap:
            return False
        self.open[key] = self.open.get(key, 0) + 1
        return True

    def leave(self, key: Hashable) -> None:
        if (left := self.open.get(key, 0) - 1) > 0:
            self.open[key] = left
        else:
            self.open.pop(key, None)


class Over(Enum):
    """Which budget a socket went past: the app closes it with a code and a sentence of its own for each."""

    USER_FRAMES = "user frames"
    ADDRESS_FRAMES = "address frames"
    ADDRESS_SOCKETS = "address sockets"


def too_many_turns(per_min: int, wait_s: float) -> str:
    """What a user is told when a send or an edit would be past VARRO_TURNS_PER_MIN."""
    seconds = max(1, math.ceil(wait_s))
    when = f"{seconds} second{'s' if seconds > 1 else ''}"
    return (f"That is more than {per_min} messages in a minute (edits and regenerations count too), so this one was "
            f"not sent. Try again in {when}; your text is kept.")


@dataclass
class Limits:
    """Every budget of the chat's websocket, kept for the app's life."""

    frames: Budgets  # each user's frames, across their sockets (opening one counts)
    hellos: Budgets  # each user's catch-ups, which can each be a whole chat's HTML
    turns: Budgets  # each user's sends and edits
    address_frames: Budgets  # each client address's frames, across its users and sockets
    sockets: Sockets  # each client address's sockets open at once
    addresses: ClientAddresses
    # Refusals logged, per address and reason: one a minute, so a reconnect loop can't flood the log instead.
    logged: Budgets = field(default_factory=lambda: Budgets(1 / 60, 1))
    # Shared links: each user makes at most 20 an hour; each address opens at most 60 shared pages a minute.
    shares: Budgets = field(default_factory=lambda: Budgets(20 / 3600, 20))
    shared_views: Budgets = field(default_factory=lambda: Budgets(1, 60))

    @classmethod
    def of(cls, s: Settings) -> Limits:
        return cls(Budgets(s.ws_frames_per_s, s.ws_frame_burst), Budgets(s.hello_per_s, s.hello_burst),
                   Budgets(s.turns_per_min / 60, s.turns_per_min),
                   Budgets(s.address_frames_per_s, s.address_frame_burst), Sockets(s.max_sockets_per_address),
                   ClientAddresses(s.proxy_networks))

    def spend(self, user_id: int, address: str) -> Over | None:
        """A frame: from the user's budget, then the address's (a frame the user may not send costs the address
        nothing, so one user's flood never starves the others behind the same address)."""
        if not self.frames.take(user_id):
            return Over.USER_FRAMES
        if not self.address_frames.take(address):
            return Over.ADDRESS_FRAMES
        return None

    def enter(self, user_id: int, address: str) -> Over | None:
        """A socket opening costs a frame, and takes a place under its address's cap until `leave(address)`."""
        if (over := self.spend(user_id, address)) is not None:
            return over
        return None if self.sockets.enter(address) else Over.ADDRESS_SOCKETS

    def leave(self, address: str) -> None:
        self.sockets.leave(address)

    def worth_logging(self, over: Over, address: str) -> bool:
        return self.logged.take((over, address))

    def turn_refusal(self, user_id: int) -> str | None:
        """Spend one of the user's turns; why not, if none is left."""
        if self.turns.take(user_id):
            return None
        return too_many_turns(int(self.turns.burst), self.turns.wait(user_id))
