"""Search that can't burn a core: capped queries, the owner before anyone else's rows, a time limit, and a query that
stops when its client goes. Each test fails on the search as it was (no cap, MATCH over every user's rows first,
nothing stopping a statement)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fasthtml.common import FastHTML, to_xml
from sqlalchemy import text
from starlette.testclient import TestClient

from tests.unit.test_routes import BROWSER, host_app
from tests.unit.test_search import answer
from ui.search import Highlighted
from varro.db import search
from varro.db.crud import Store

WORDS = "river valley glacier delta basin canyon plateau estuary".split()


@pytest.fixture
def app(tmp_path: Path) -> FastHTML:
    return host_app(tmp_path)


async def bulk_turns(store: Store, user_id: int, n: int, text_of: Any) -> int:
    """A chat of `user_id` with `n` turns (one statement: the index triggers still fill the search index)."""
    chat = await store.chats.for_user(user_id).create("bulk")
    rows = [{"c": chat.id, "i": i, "u": text_of(i), "j": json.dumps(answer(f"answer {i}"))} for i in range(n)]
    async with store.sessions.write() as s:
        await s.connection()
        await s.exec(text("INSERT INTO turn (chat_id, idx, user_text, content, status, created_at) "  # type: ignore[call-overload]
                          "VALUES (:c, :i, :u, CAST(:j AS JSON), 'complete', CURRENT_TIMESTAMP)"), params=rows)
        await s.commit()
    return chat.id


def test_a_3000_word_query_answers_at_once_with_a_clear_message(app: FastHTML) -> None:
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        alice.post("/chat/new")
        q = " ".join(WORDS[i % len(WORDS)] for i in range(3000))
        started = time.perf_counter()
        page = alice.get("/chat/search", params={"q": q})
        took = time.perf_counter() - started
    assert page.status_code == 200 and took < 1.0, f"refused before any reading, not searched ({took:.2f} s)"
    assert 'data-testid="search-note"' in page.text and "at most 8 words" in page.text and "3,000 words" in page.text


async def test_the_caps_refuse_before_reading(store: Store) -> None:
    alice = await store.users.ensure("alice")
    chats = store.chats.for_user(alice.id)
    with pytest.raises(search.SearchRefused, match="at most 8 words"):
        await chats.search("one two three four five six seven eight nine")
    with pytest.raises(search.SearchRefused, match="200 characters"):
        await chats.search("x" * 201)
    assert await chats.search("a b c d e f g h") == []  # eight words are fine


async def test_another_users_rows_are_never_scanned_first(store: Store) -> None:
    """Bob has 2,000 turns that match; Alice's search reads Alice's rows only (the plan, and what it touched)."""
    alice, bob = await store.users.ensure("alice"), await store.users.ensure("bob")
    mine = await bulk_turns(store, alice.id, 3, lambda i: f"glacier number {i}")
    await bulk_turns(store, bob.id, 2000, lambda i: f"glacier of bob {i}")
    async with store.sessions() as s:
        conn = await s.connection()
        if conn.dialect.name == "sqlite":
            params = {"q": search.fts_query(["glac"], alice.id), "uid": alice.id, "limit": 300}
            plan = [r[3] for r in (await conn.execute(text("EXPLAIN QUERY PLAN " + search.SQLITE_HITS), params))]
            assert plan[0].startswith("SCAN turn_fts VIRTUAL TABLE"), plan  # the index drives: turn and chat follow
            assert params["q"].startswith(f'owner : "u{alice.id}" AND '), "the owner is part of the index lookup"
            # What the statement steps through must not grow with Bob's rows: count its virtual-machine steps.
            raw = (await conn.get_raw_connection()).driver_connection
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0
            await raw.set_progress_handler(count, 10)
            rows = (await conn.execute(text(search.SQLITE_HITS), params)).all()
            await raw.set_progress_handler(None, 0)
            assert {r[0] for r in rows} == {mine} and len(rows) == 3
            assert steps[0] * 10 < 2000, f"{steps[0] * 10} steps: Bob's 2,000 matching rows were walked"
        else:
            await conn.execute(text("ANALYZE"))
            params = {"q": search.tsquery(["glac"]), "uid": alice.id, "limit": 300}
            explained = (await conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + search.PG_HITS), params)).scalar()
            nodes = list(plan_nodes(explained[0]["Plan"]))
            fts = [n for n in nodes if n.get("Relation Name") == "turn_fts" or n.get("Index Name", "").startswith("turn_fts")]
            assert fts and all("Seq Scan" not in n["Node Type"] for n in fts), nodes
            cond = " ".join(n.get("Index Cond", "") for n in fts)
            assert "user_id" in cond, f"the owner is the index lookup: {nodes}"
            assert all(n.get("Rows Removed by Filter", 0) == 0 and n["Actual Rows"] == 3 for n in fts), \
                "only Alice's three rows were read"


def plan_nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


async def test_a_query_past_its_time_limit_stops_with_a_message(store: Store) -> None:
    alice = await store.users.ensure("alice")
    await bulk_turns(store, alice.id, 300, lambda i: f"glacier {i}")
    with pytest.raises(search.SearchRefused, match="longer than 1e-06 s and was stopped"):
        await store.chats.for_user(alice.id).search("glacier", time_limit=1e-6)
    assert len(await store.chats.for_user(alice.id).search("glacier")) == 1, "the connection is fine afterwards"


class GatedBrake(search.Brake):
    """The real brake, held at its first step until the test lets go: the statement is running, and waits there."""

    running = threading.Event()
    release = threading.Event()
    calls_after_release: list[int] = []
    made: list[search.Brake] = []

    def __init__(self, time_limit: float) -> None:
        super().__init__(time_limit)
        GatedBrake.made.append(self)

    def __call__(self) -> int:
        if not GatedBrake.running.is_set():
            GatedBrake.running.set()
            GatedBrake.release.wait(10)
        elif GatedBrake.release.is_set():
            GatedBrake.calls_after_release.append(1)
        return super().__call__()


def test_a_request_whose_client_goes_stops_its_query(app: FastHTML, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "Brake", GatedBrake)
    with TestClient(app, headers=BROWSER) as alice:
        alice.get("/login/alice")
        state = app.state.varro
        uid = alice.portal.call(state.store.users.ensure, "alice").id
        alice.portal.call(bulk_turns, state.store, uid, 300, lambda i: f"glacier {i}")
        cookie = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
        sent: list[dict[str, Any]] = []

        async def request_then_leave() -> float:
            gone = asyncio.Event()

            async def receive() -> dict[str, Any]:
                if not sent and not gone.is_set() and not getattr(receive, "asked", False):
                    receive.asked = True  # type: ignore[attr-defined]
                    return {"type": "http.request", "body": b"", "more_body": False}
                await gone.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            headers = [(b"host", b"testserver"), (b"cookie", cookie.encode()), *((k.encode(), v.encode())
                                                                                 for k, v in BROWSER.items())]
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": "/chat/search", "raw_path": b"/chat/search",
                     "query_string": b"q=glacier", "headers": headers, "client": ("127.0.0.1", 5000),
                     "server": ("testserver", 80), "root_path": "", "state": {}}
            call = asyncio.create_task(app(scope, receive, send))
            assert await asyncio.to_thread(GatedBrake.running.wait, 10), "the search's statement started"
            gone.set()  # the tab closed, or typing went on and the browser aborted this search
            await asyncio.sleep(0)
            brake_pulled = await asyncio.to_thread(_wait_pulled, 10)
            GatedBrake.release.set()
            started = time.perf_counter()
            await asyncio.wait_for(call, 10)
            return time.perf_counter() - started if brake_pulled else -1.0

        took = alice.portal.call(request_then_leave)
        assert took >= 0, "the query was told to stop while it was still held running"
        assert GatedBrake.calls_after_release == [], "the statement stopped at the step it was held at"
        assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [499]
        assert took < 1.0
        assert 'search-result' in alice.get("/chat/search", params={"q": "glacier"}).text, "the next search works"


def _wait_pulled(seconds: float) -> bool:
    """Whether the search's brake was pulled within `seconds` (the route cancels the query when the client goes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(b.pulled.is_set() for b in GatedBrake.made):
            return True
        time.sleep(0.005)
    return False


def test_found_words_are_marked_and_everything_else_escaped() -> None:
    html = to_xml(Highlighted("Glaciers <b>carve</b> valleys; glacé", ["glac", "valley"]))
    assert html.count("<mark") == 3 and "&lt;b&gt;carve&lt;/b&gt;" in html
    assert "<mark class=\"bg-warning text-warning-content rounded-sm\">Glaciers</mark>" in html
    assert to_xml(Highlighted("a cat at a bar", ["a"])).count("<mark") == 2, "one letter: that word alone"


async def test_a_cancelled_search_stops_its_statement_in_postgresql() -> None:
    """PostgreSQL: the search waits behind a lock another session holds (the gate); cancelling it ends the statement
    on the server while the lock is still held, so it was stopped, not finished."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from tests.services import pg_database
    from varro.db.engine import make_engine, make_sessions
    from varro.db.migrate import migrate

    async with pg_database() as url:
        engine = make_engine(url)
        await migrate(engine)
        store = Store(make_sessions(engine))
        alice = await store.users.ensure("alice")
        await bulk_turns(store, alice.id, 20, lambda i: f"glacier {i}")
        u = make_url(url)
        gate = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, database=u.database)
        try:
            tx = gate.transaction()
            await tx.start()
            await gate.execute("LOCK TABLE turn_fts IN ACCESS EXCLUSIVE MODE")
            search_task = asyncio.create_task(store.chats.for_user(alice.id).search("glacier", time_limit=60))
            # The search's statement waits for the lock (in its parse step: pg_stat_activity shows the one before).
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' " \
                      "AND datname = current_database() AND pid <> pg_backend_pid()"
            for _ in range(500):
                if await gate.fetchval(waiting):
                    break
                await asyncio.sleep(0.01)
            assert await gate.fetchval(waiting) == 1, "the search is held at the gate"
            search_task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await search_task
            for _ in range(200):
                if not await gate.fetchval(waiting):
                    break
                await asyncio.sleep(0.01)
            assert await gate.fetchval(waiting) == 0, "the statement ended on the server while the gate was shut"
            await tx.rollback()
        finally:
            await gate.close()
            await engine.dispose()
