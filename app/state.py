"""Everything the chat module holds while the app runs, made in the lifespan and closed there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
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
from varro.agent.choices import ModelChoice
from varro.agent.models import check_provider, request_settings, resolve_model
from varro.chat.content import meta_of
from varro.chat.frame_budget import FrameBudget
from varro.chat.live import LiveSessions
from varro.chat.opening import open_chat
from varro.chat.ratelimit import Limits
from varro.chat.session import ChatSession, OnEvent, SessionDeps
from varro.chat.trace import TraceLog
from varro.config import Settings
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.db.models import Turn
from varro.scale.coordinator import RedisCoordinator, make_coordinator
from varro.shell.host import HostClient
from varro.shell.hosts import KernelHosts
from varro.shell.local_host import LocalHost, start_local_host
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
    host: KernelHosts | None = None  # the kernel hosts, with every chat's kernel and folder
    local_host: LocalHost | None = None  # the one this process started, when none was configured (stopped last)
    provider_check: asyncio.Task[None] | None = None  # the start-up reachability check, logged when it fails
    limits: Limits = field(default_factory=lambda: Limits.of(Settings()))  # the socket's budgets, per user and address
    turn_html: TurnHtml = field(default_factory=lambda: TurnHtml(partial(stored_turn, ChatUrls())))
    lag: LoopLag = field(default_factory=LoopLag)  # the event loop's lag, logged when it stalls
    # the frames a second this process's streams share (VARRO_STREAM_FRAMES_PER_S)
    frames: FrameBudget = field(default_factory=lambda: FrameBudget(Settings().stream_frames_per_s))
    served: dict[str, str] = field(default_factory=dict)  # the provider's names for our models (check_provider)

    @property
    def kernels(self) -> KernelHosts:
        assert self.host is not None, "the app's state is open"
        return self.host

    @property
    def model_label(self) -> str:
        label = next(c.label for c in self.settings.model_choices if c.key == self.settings.model)
        served = self.served.get(self.model.model_name) if label == self.settings.model else None
        return f"{self.model.system}:{served}" if served else label

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


async def open_hosts(settings: Settings, store: Store) -> tuple[KernelHosts, LocalHost | None]:
    """The configured kernel hosts, or one started here on loopback (as this process's user: as root it sandboxes
    kernels; unprivileged and sandboxed, it answers every cell with why code can't run)."""
    if urls := settings.kernel_host_list:
        clients = [HostClient(url, settings.kernel_host_token, settings.kernel_space) for url in urls]
        return KernelHosts(clients, store.placements), None
    local = await asyncio.to_thread(start_local_host, Path(settings.kernels_dir))
    return KernelHosts([HostClient(local.url, local.token, settings.kernel_space)]), local


async def report_provider(model: Model, served: dict[str, str]) -> None:
    if (problem := await check_provider(model, served)) is not None:
        log.warning(problem)


async def stop_crashed_turns(store: Store) -> None:
    """Turns a crash left `running` are `stopped`, their user's words kept. Only where no other process runs turns."""
    if stopped := await store.stop_interrupted():
        log.warning("%d turns were cut short by a crash; they are kept as stopped", stopped)


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
    uploads = UploadStore(Path(settings.uploads_dir), settings.max_chat_copies_mb * 2**20)
    model = resolve_model(settings.model, settings.demo_tps, settings.demo_gates)
    choices = settings.model_choices  # one: no picker, and turns show the model's own name as before
    models = {c.key: (c.label, model if c.key == settings.model else resolve_model(c.key, settings.demo_tps, settings.demo_gates))
              for c in choices} if len(choices) > 1 else {}
    served: dict[str, str] = {}  # the provider's own name for the model, once the check has asked it
    checked = asyncio.create_task(report_provider(model, served))  # beside start-up, which need not wait for it
    titles = settings.title_model != "off"
    title_model = resolve_model(settings.title_model, settings.demo_tps) if titles and settings.title_model else None
    host, local_host = await open_hosts(settings, store)
    deps = SessionDeps(model=model, uploads=uploads, host=host, cell_timeout_s=settings.cell_timeout_s,
                       model_settings=request_settings(settings.model_timeout_s, settings.model_max_tokens),
                       first_event_s=settings.model_timeout_s,
                       images=settings.model_images, context_tokens=settings.context_tokens,
                       max_tokens=settings.model_max_tokens, model_requests=settings.model_requests, titles=titles, title_model=title_model,
                       agent=chat_agent,
                       on_event=on_event, models=models, served=served)

    coordinator = make_coordinator(settings.redis_url, settings.redis_prefix, settings.lease_ttl_s)

    hub = coordinator.hub if isinstance(coordinator, RedisCoordinator) else None

    async def open_session(user_id: int, chat_id: int) -> ChatSession:
        chats = store.chats.for_user(user_id, fence=coordinator.fence(user_id))  # claimed just before
        return await open_chat(chats, chat_id, deps, hub)

    demo_user_id = None
    if settings.demo_user:
        demo_user_id = (await store.users.ensure(settings.demo_user)).id
    trace = TraceLog(settings.trace_file) if settings.trace_file else None
    live = LiveSessions(open_session, settings.max_runs_per_user, coordinator)
    await coordinator.start(live.evict)
    if hub is not None:
        await hub.listen(live.stop_run)
    urls = urls or ChatUrls()
    state = VarroState(settings, engine, store, uploads, model, live, demo_user_id, trace, urls, host, local_host,
                       provider_check=checked, limits=Limits.of(settings),
                       turn_html=TurnHtml(partial(stored_turn, urls)), served=served,
                       frames=FrameBudget(settings.stream_frames_per_s))
    state.lag.start()
    freeze_startup_heap()
    return state


async def close_state(state: VarroState) -> None:
    await state.lag.stop()
    if state.provider_check is not None:
        state.provider_check.cancel()
    await state.live.close_all()  # the kernels stay on their host, for the chats' next sessions
    await state.live.coordinator.close()
    if state.host is not None:
        await state.host.close()
    if state.local_host is not None:
        await asyncio.to_thread(state.local_host.stop)
    await state.engine.dispose()
    state.turn_html.close()
    if state.trace is not None:
        state.trace.close()
