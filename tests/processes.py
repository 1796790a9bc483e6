"""Processes of the app as far as sessions go, on a shared database and Redis: `process` in the test's own event
loop, and `scale_process`, the same run as a real OS process so that a test can kill it (-9) as a machine or an
OOM kill would: no renewal, no release, no last word.

`python -m tests.processes DATABASE_URL PREFIX TTL_S FOLDER` then lines on stdin:
- `connect USER CHAT`: open the user's session on the chat (a tab that records nothing); answers `connected`.
- `send TEXT`: send TEXT in it; answers `streaming` once the answer is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from redis.asyncio import Redis

from tests.kernels import shared_client
from tests.services import REDIS_URL
from tests.unit.test_live import FakeTab, slow_words
from tests.waits import until
from varro.agent.demo import StreamItem, demo_model, user_prompts
from varro.agent.demo_pacing import Gates
from varro.chat.live import LiveSessions
from varro.chat.opening import open_chat
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.scale.coordinator import RedisCoordinator
from varro.uploads import UploadStore


async def process(store: Store, tmp_path: Path, prefix: str, ttl_s: float = 5.0, words: int = 5,
                  max_runs: int = 2, redis_url: str = REDIS_URL) -> LiveSessions:
    """One process's registry: its own coordinator on the shared Redis, the shared database. Its model is the demo
    model, whose answers `/stream N until GATE` hold open until the test opens the gate (`gates(tmp_path)`); any
    other message is answered with `words` words."""
    coordinator = RedisCoordinator(Redis.from_url(redis_url), prefix, ttl_s)
    deps = SessionDeps(model=gated_or_words(tmp_path, words), uploads=UploadStore(tmp_path / "up"),
                       host=shared_client())

    async def open_session(user_id: int, chat_id: int) -> ChatSession:
        return await open_chat(store.chats.for_user(user_id, fence=coordinator.fence(user_id)), chat_id, deps,
                               coordinator.hub)

    live = LiveSessions(open_session, max_runs=max_runs, coordinator=coordinator)
    await coordinator.start(live.evict)
    await coordinator.hub.listen(live.stop_run)
    return live


def gates(tmp_path: Path) -> Gates:
    return Gates(tmp_path / "gates")


def gated_or_words(tmp_path: Path, words: int) -> FunctionModel:
    demo, plain = demo_model(0, gates=gates(tmp_path).folder), slow_words(words, 0.01)

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[StreamItem]:
        model = demo if user_prompts(messages)[-1].startswith("/stream") else plain
        assert model.stream_function is not None
        async for item in model.stream_function(messages, info):
            yield item

    return FunctionModel(stream_function=stream)


async def user_with_chat(store: Store) -> tuple[int, int]:
    uid = (await store.users.ensure("u")).id
    return uid, (await store.chats.for_user(uid).create()).id


async def shut(*lives: LiveSessions) -> None:
    for live in lives:
        await live.close_all()
        await live.coordinator.close()


async def serve(database_url: str, prefix: str, ttl_s: float, folder: Path) -> None:
    engine = make_engine(database_url)
    await migrate(engine)
    live = await process(Store(make_sessions(engine)), folder, prefix, ttl_s)
    session, tab = None, FakeTab()
    print("ready", flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        command, _, rest = line.strip().partition(" ")
        if command == "connect":
            user, chat = map(int, rest.split())
            session = await live.connect(user, chat, tab)
            await live.attach(user, tab, 0)
            print("connected", flush=True)
        elif command == "send" and session is not None:
            session.send(rest)
            await until(lambda: len(tab.events) > 5, "the answer to stream")
            print("streaming", flush=True)


class ScaleProcess:
    """The test's side: start it, tell it what to do, kill it."""

    def __init__(self, database_url: str, prefix: str, ttl_s: float, folder: Path) -> None:
        # -X faulthandler: a SIGABRT makes it print every thread's stack (to the test's captured stderr).
        self.proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "tests.processes", database_url,
                                      prefix, str(ttl_s), str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=Path(__file__).resolve().parents[1])

    def _expect(self, answer: str, within_s: float = 60) -> None:
        """The next line it says is `answer`; a process that says nothing for `within_s` is made to show where it
        stands and fails the test, rather than hold it until the suite's own timeout."""
        assert self.proc.stdout is not None
        if not select.select([self.proc.stdout], [], [], within_s)[0]:
            self.proc.send_signal(signal.SIGABRT)
            raise AssertionError(f"the other process said nothing for {within_s} s; the test waited for {answer!r} "
                                 "(its threads' stacks are in the captured stderr)")
        line = self.proc.stdout.readline().strip()
        assert line == answer, f"the other process said {line!r}, not {answer!r}"

    async def ask(self, command: str, answer: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        await asyncio.to_thread(self._expect, answer)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: nothing of it runs after this
        self.proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def scale_process(database_url: str, prefix: str, ttl_s: float, folder: Path) -> AsyncIterator[ScaleProcess]:
    """Another process, started and ready; killed at the end if the test has not killed it."""
    other = ScaleProcess(database_url, prefix, ttl_s, folder)
    try:
        await asyncio.to_thread(other._expect, "ready")
        yield other
    finally:
        other.kill()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])))
