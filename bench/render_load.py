"""`python -m bench.render_load`: does one user hammering a long chat slow everyone else down?

One user has a chat of one 1 MB answer and loads its page in a loop while their socket asks for the whole chat
(`hello` with nothing known) twice a second; another user meanwhile makes a trivial request (the chat menu's
list) every 50 ms. Printed: that request's p50 and p99, and the server's event-loop lag. The figures are in
docs/benchmarks.md ("One long chat, hammered").

    python -m bench.render_load [--size CHARS] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.security.bigchat import interference
from tests.security.conftest import host_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="characters of the long answer")
    parser.add_argument("--seconds", type=float, default=20, help="how long the hammering goes on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, host_server(Path(tmp)) as srv:
        seen = asyncio.run(interference(srv.url, srv.db_path, args.size, args.seconds))
    print(f"{args.size:,}-character chat hammered for {args.seconds:.0f} s: another user's request p50 "
          f"{seen.p50_ms:.0f} ms, p99 {seen.p99_ms:.0f} ms ({seen.requests} requests); {seen.hammered} page loads "
          f"and catch-ups served; event-loop lag p50 {seen.lag['p50_ms']:.1f} ms, p99 {seen.lag['p99_ms']:.1f} ms, "
          f"max {seen.lag['max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
