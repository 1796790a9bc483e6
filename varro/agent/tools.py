"""What the agent's tool needs from the chat session, passed as the run's dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from varro.chat.content import Attachment
from varro.shell.result import CellResult, Image


@dataclass
class Deps:
    """Per-run dependencies: the session's shell, where its images go, and whose chat it is (for host tools)."""

    run_cell: Callable[[str], Awaitable[CellResult]]
    save_image: Callable[[Image], Attachment]
    save_file: Callable[[str], Awaitable[Attachment | None]]  # a file a cell wrote in the chat's folder, kept by hash
    user_id: int
    chat_id: int
    images_to_model: bool = False
    attachments: dict[str, list[Attachment]] = field(default_factory=dict)
