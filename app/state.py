"""Everything the chat module holds while the app runs, made in the lifespan and closed there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pydantic_ai.models import Model
from sqlalchemy.ext.asyncio import AsyncEngine

from app.lag import LoopLag, freeze_startup_heap
from app.render import stored_turn
from app.turn_html import TurnHtml
from app.urls import ChatUrls
from ui.highlight import warm_lexers
from varro.agent.agent import ChatAgent, agent
from varro.agent.models import ModelChoice, check_provider, request_settings, resolve_model
from varro.chat.content import meta_of
from varro.chat.live import LiveSessions
from varro.chat.opening import open_chat
from varro.chat.ratelimit import Limits
from varro.chat.session import ChatSession, OnEvent, SessionDeps
from varro.chat.shell_state import KernelFactory
from varro.chat.trace import TraceLog
from varro.config import Settings
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.db.models import Turn
from varro.scale.coordinator import RedisCoordinator, make_coordinator
from varro.shell import KernelShell
from varro.shell.isolation import make_isolation
from varro.shell.keeper import KernelKeeper
from varro.shell.pool import KernelPool
from varro.shell.sandbox import Isolation, Refused
from varro.uploads import UploadStore

log = logging.getLogger("varro")


@dataclass
class VarroState:
    settings: Settings
    engine: AsyncEngine
    store: Store
    uploads: UploadStore
    model: Model
    live: LiveSessions
    demo_user_id: int | None = None
    trace: TraceLog | None = None  # VARRO_TRACE_FILE, for the benchmarks
    urls: ChatUrls = field(default_factory=ChatUrls)
    pool: KernelPool | None = None  # kernels started ahead of need (closed last)
    provider_check: asyncio.Task[None] | None = None  # the start-up reachability check, logged when it fails
    limits: Limits = field(default_factory=lambda: Limits.of(Settings()))  # the socket's budgets, per user and address
    turn_html: TurnHtml = field(default_factory=lambda: TurnHtml(partial(stored_turn, ChatUrls())))
    lag: LoopLag = field(default_factory=LoopLag)  # the event loop's lag, logged when it stalls

    def workdir(self, user_id: int, chat_id: int) -> Path:
        """The chat's working directory: its kernel's home, with the files its code wrote."""
        return chat_workdir(self.settings, user_id, chat_id)

    @property
    def model_label(self) -> str:
        return next(c.label for c in self.settings.model_choices if c.key == self.settings.model)

    def picker(self, stored: Sequence[Turn]) -> tuple[list[ModelChoice], str]:
        """The models the page offers (none when there is only one), and the one picked: the model of the chat's
        last turn, so that the next turn goes on with it; else the default."""
        choices = self.settings.model_choices
        if len(choices) < 2:
            return [], ""
        last = meta_of(stored[-1].content).get("model_label") if stored else None
        return choices, next((c.key for c in choices if c.label == last), self.settings.model)

    @property
    def default_model_key(self) -> str:
        """What a turn that picks no model is answered by, when the page offers several; "": the only one."""
        return self.settings.model if len(self.settings.model_choices) > 1 else ""


def chat_workdir(settings: Settings, user_id: int, chat_id: int) -> Path:
    return Path(settings.kernels_dir) / str(user_id) / str(chat_id)


def kernel_in(settings: Settings, isolation: Isolation, workdir: Path) -> KernelShell:
    return KernelShell(workdir, timeout=settings.cell_timeout_s, memory_mb=settings.kernel_memory_mb,
                       isolation=isolation, workdir_mb=settings.kernel_workdir_mb)


def kernel_factory(settings: Settings, isolation: Isolation) -> Callable[[int, int], KernelFactory]:
    def for_chat(user_id: int, chat_id: int) -> KernelFactory:
        return partial(kernel_in, settings, isolation, chat_workdir(settings, user_id, chat_id))

    return for_chat


def kernel_pool(settings: Settings, isolation: Isolation) -> KernelPool | None:
    """Beside the chats' folders (a pooled kernel's folder is renamed to its chat's: one filesystem)."""
    if isinstance(isolation, Refused) or settings.kernel_pool == 0:
        return None
    # It fills when the first session opens (open_session below), not at start-up: an app that never chats, like
    # most test apps, never starts a kernel.
    return KernelPool(settings.kernel_pool, Path(settings.kernels_dir).parent / "kernel-pool",
                      partial(kernel_in, settings, isolation))


async def report_provider(model: Model) -> None:
    if (problem := await check_provider(model)) is not None:
        log.warning(problem)


async def stop_crashed_turns(store: Store) -> None:
    """Turns a crash left `running` are `stopped`, their user's words kept. Only where no other process runs turns."""
    if stopped := await store.stop_interrupted():
        log.warning("%d turns were cut short by a crash; they are kept as stopped", stopped)


async def stop_crashed_turns_in(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await stop_crashed_turns(Store(make_sessions(engine)))
    finally:
        await engine.dispose()


async def open_state(settings: Settings, urls: ChatUrls | None = None, chat_agent: ChatAgent = agent,
                     on_event: OnEvent | None = None) -> VarroState:
    if (path := settings.sqlite_path) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(warm_lexers)
    engine = make_engine(settings.database_url)
    await migrate(engine)
    store = Store(make_sessions(engine))
    if not settings.redis_url:  # one process: a turn still `running` is one a crash cut short (workers: see app/__main__)
        await stop_crashed_turns(store)
    uploads = UploadStore(Path(settings.uploads_dir))
    model = resolve_model(settings.model, settings.demo_tps)
    choices = settings.model_choices  # one: no picker, and turns show the model's own name as before
    models = {c.key: (c.label, model if c.key == settings.model else resolve_model(c.key, settings.demo_tps))
              for c in choices} if len(choices) > 1 else {}
    checked = asyncio.create_task(report_provider(model))  # beside start-up, which need not wait for it
    titles = settings.title_model != "off"
    title_model = resolve_model(settings.title_model, settings.demo_tps) if titles and settings.title_model else None
    isolation = await make_isolation(settings)
    keeper = KernelKeeper(settings.kernel_idle_s, settings.max_kernels_per_user, settings.max_kernels)
    pool = kernel_pool(settings, isolation)
    deps = SessionDeps(model=model, uploads=uploads, make_kernel=kernel_factory(settings, isolation), keeper=keeper,
                       pool=pool, model_settings=request_settings(settings.model_timeout_s, settings.model_max_tokens),
                       images=settings.model_images, context_tokens=settings.context_tokens,
                       max_tokens=settings.model_max_tokens, model_requests=settings.model_requests, titles=titles, title_model=title_model,
                       agent=chat_agent,
                       on_event=on_event, workdir_of=partial(chat_workdir, settings), models=models)

    coordinator = make_coordinator(settings.redis_url, settings.redis_prefix, settings.lease_ttl_s)

    hub = coordinator.runs if isinstance(coordinator, RedisCoordinator) else None

    async def open_session(user_id: int, chat_id: int) -> ChatSession:
        chats = store.chats.for_user(user_id, fence=coordinator.fence(user_id))  # claimed just before
        session = await open_chat(chats, chat_id, deps, hub)
        if pool is not None:
            pool.fill()  # from the first session on, a started kernel waits for the next chat
        return session

    demo_user_id = None
    if settings.demo_user:
        demo_user_id = (await store.users.ensure(settings.demo_user)).id
    trace = TraceLog(settings.trace_file) if settings.trace_file else None
    live = LiveSessions(open_session, keeper, settings.max_runs_per_user, coordinator)
    await coordinator.start(live.evict)
    if hub is not None:
        await hub.listen(live.stop_run)
    urls = urls or ChatUrls()
    state = VarroState(settings, engine, store, uploads, model, live, demo_user_id, trace, urls, pool,
                       provider_check=checked, limits=Limits.of(settings),
                       turn_html=TurnHtml(partial(stored_turn, urls)))
    state.lag.start()
    freeze_startup_heap()
    return state


async def close_state(state: VarroState) -> None:
    await state.lag.stop()
    if state.provider_check is not None:
        state.provider_check.cancel()
    await state.live.close_all()  # hands the live kernels to the keeper ...
    await state.live.coordinator.close()
    if (keeper := state.live.keeper) is not None:
        await keeper.close_all()  # ... which shuts every one down at once
    if state.pool is not None:
        await state.pool.close()
    await state.engine.dispose()
    state.turn_html.close()
    if state.trace is not None:
        state.trace.close()
