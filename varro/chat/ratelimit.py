"""Token buckets: how many frames a user may send, so one client cannot flood the server.

The budget is the user's, not the socket's: closing a flooding socket and opening a new one does not refill it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take()` spends one, or says there is none."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


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

    def _forget_full(self) -> None:
        now = self.clock()
        self.buckets = {k: b for k, b in self.buckets.items() if b.tokens + (now - b.last) * b.rate < b.burst}
