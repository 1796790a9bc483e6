"""One turn's `agent.iter()` run, retried once without images when the provider refuses them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits

from varro.agent.agent import ChatAgent
from varro.agent.images import without_images
from varro.agent.tools import Deps
from varro.chat.errors import refuses_images
from varro.chat.stream import NodeStreamer


class TurnRun:
    def __init__(self, agent: ChatAgent, model: Model, settings: ModelSettings | None, deps: Deps, requests: int,
                 streamer: NodeStreamer, fitting: AbstractCapability[Any] | None = None) -> None:
        # A model that calls tools forever (a small local one may) ends with a clear error, not an endless turn.
        self.limits = UsageLimits(request_limit=requests)
        self.agent = agent
        self.model = model
        self.settings = settings
        self.deps = deps
        self.streamer = streamer  # kept across the retry, so node ids go on counting
        self.done: list[ModelMessage] = []  # what the refused attempt produced (a tool step, say), kept
        self.run: Any = None
        self.capabilities = [fitting] if fitting is not None else None  # each request fitted to the window

    async def go(self, prompt: str, history: list[ModelMessage], images_refused: Callable[[], Awaitable[None]]) -> None:
        """Run the turn; if the provider refuses an image, say so and go on from where it stopped, without them."""
        user_prompt: str | None = prompt
        for attempt in range(2):
            self.run = None
            try:
                async with self.agent.iter(user_prompt, message_history=history, model=self.model, deps=self.deps,
                                           model_settings=self.settings, usage_limits=self.limits,
                                           capabilities=self.capabilities) as run:
                    self.run = run
                    await self.streamer.run(run)
                return
            except Exception as exc:
                if attempt or not self.deps.images_to_model or not refuses_images(exc):
                    raise
                so_far = self.run.new_messages() if self.run is not None else []
                self.done += so_far
                # The refused request is the last of `so_far`: the new run sends it again, and answers it.
                history, user_prompt = without_images(history + so_far), None
                self.deps.images_to_model = False
                await images_refused()

    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()

    def new_messages(self, tail: list[ModelMessage] | None = None) -> list[ModelMessage]:
        """Everything the turn produced: the refused attempt's messages, then the last run's (or `tail`)."""
        if tail is None:
            tail = self.run.new_messages() if self.run is not None else []
        return self.done + tail

    @property
    def usage(self) -> Any:
        return self.run.usage if self.run is not None else None
