"""What a chat session is given and what it raises: its dependencies (models, the kernel hosts, the stores, the
limits), the hooks of a turn run elsewhere, and the refusals a socket turns into a message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from varro.agent.agent import ChatAgent, agent
from varro.agent.images import ImagesMode
from varro.agent.models import provider_url
from varro.chat.context import TokenScale
from varro.chat.events import (
    Event,
    TurnStored,
)
from varro.shell.hosts import KernelHosts
from varro.uploads import UploadStore

if TYPE_CHECKING:
    from varro.chat.session import ChatSession

Sink = Callable[[Event], Awaitable[None]]
OnEvent = Callable[[TurnStored], Awaitable[None]]


class Remote(Protocol):
    """A turn of this chat running on another process (varro/chat/remote.py)."""

    async def stop(self) -> None: ...

    async def follow(self, session: ChatSession) -> None: ...


class Publish(Protocol):
    """Where the session's events go for other processes (varro/scale/runlog.py `Publisher`)."""

    def __call__(self, event: Event) -> None: ...

    async def flushed(self) -> None: ...


class Refused(ValueError):
    """A request the user can correct, its text written for them (unlike any other `ValueError`)."""


class Busy(Exception):
    """A turn is already running in this session."""


@dataclass(frozen=True)
class SessionDeps:
    """What a session needs from the app, made once in the lifespan."""

    model: Model
    uploads: UploadStore
    host: KernelHosts  # the kernel hosts, with each chat's kernel and folder
    model_settings: ModelSettings | None = None  # timeouts (varro.agent.models.request_settings)
    first_event_s: float | None = None  # VARRO_MODEL_TIMEOUT_S: a model request's wait for its first output
    cell_timeout_s: float = 30.0  # a cell's time limit, then an interrupt
    # a host's own (varro.agent.agent.chat_agent), with `run_python` and its tools
    agent: ChatAgent = field(default_factory=lambda: agent)
    on_event: OnEvent | None = None  # the host's hook, awaited once each turn is stored
    images: ImagesMode = "auto"  # VARRO_MODEL_IMAGES (varro.agent.images)
    context_tokens: int | None = None  # VARRO_CONTEXT_TOKENS (varro.chat.context)
    max_tokens: int | None = None  # VARRO_MODEL_MAX_TOKENS: room kept for the answer
    model_requests: int = 20  # VARRO_MODEL_REQUESTS: model requests per answer, tool steps included
    titles: bool = True  # VARRO_TITLE_MODEL=off: quick titles only
    title_model: Model | None = None  # VARRO_TITLE_MODEL: a model of its own; None: the chat's, after its answer
    # VARRO_MODELS: the models a turn may pick, by their string, with their labels; `model` answers otherwise
    models: Mapping[str, tuple[str, Model]] = field(default_factory=dict)
    # the name a provider serves a model under, where it is not the one we ask for (filled by the start-up check)
    served: dict[str, str] = field(default_factory=dict)
    # each model's characters-to-tokens scale, calibrated by its provider's counts (varro.chat.context)
    scales: dict[str, TokenScale] = field(default_factory=dict)

    def scale_of(self, model: Model) -> TokenScale:
        if (scale := self.scales.get(model.model_name)) is None:
            url = provider_url(model)
            tokenize = url.removesuffix("/v1") + "/tokenize" if url is not None else None
            scale = self.scales[model.model_name] = TokenScale(tokenize_url=tokenize)
        return scale

    def model_name(self, model: Model) -> str:
        """What a turn of `model` is labelled with: the provider's own name for it where the check learned it."""
        return self.served.get(model.model_name, model.model_name)


def quote(text: str, limit: int = 40) -> str:
    """The start of a message, on one line, as a notice names its turn."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


