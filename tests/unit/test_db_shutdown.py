"""A server whose requests were cancelled mid-query (their clients left) still shuts down: the SQLite connections they
held are closed, and no task is left waiting on a closed connection's worker thread (varro/db/engine.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

LEFT_MID_QUERY = textwrap.dedent("""
    import asyncio, sys
    from sqlalchemy import text
    from varro.db.engine import make_engine, make_sessions

    async def main(path):
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        sessions = make_sessions(engine)

        async def request():
            async with sessions() as session:
                await session.execute(text("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "
                                           "WHERE i < 3000000) SELECT count(*) FROM r"))

        requests = [asyncio.create_task(request()) for _ in range(3)]
        await asyncio.sleep(0.2)  # each holds its connection, its query running
        for r in requests:
            r.cancel()  # the clients left
        await asyncio.sleep(0)
        print("leaving", flush=True)

    asyncio.run(main(sys.argv[1]))  # cancels and awaits every task left, as a server's loop does when it stops
    print("shut down", flush=True)
""")


def test_requests_cancelled_mid_query_do_not_hold_the_shutdown(tmp_path: Path) -> None:
    # The bound only catches a hang (it shuts down in well under a second when it works).
    done = subprocess.run([sys.executable, "-c", LEFT_MID_QUERY, str(tmp_path / "db.sqlite")], capture_output=True,
                          text=True, timeout=90, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["leaving", "shut", "down"]
    assert "Exception terminating connection" not in done.stderr, done.stderr[-2000:]
