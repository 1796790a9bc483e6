"""The `content` JSON of a turn (docs/design.md section 4, version 1): build it, and read its parts back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolReturnPart,
)

from varro.files import ChatFile

CONTENT_VERSION = 1


@dataclass(frozen=True)
class Attachment:
    """An image a tool produced, or a file its code wrote (`name`, `size`), stored under the uploads folder (path
    relative to it)."""

    path: str
    media_type: str
    name: str | None = None  # set for a file from the working directory: the name it is downloaded as
    size: int | None = None
    width: int | None = None  # an image's pixels, when its format says (the page reserves its box: nothing jumps)
    height: int | None = None

    @property
    def is_file(self) -> bool:
        return self.name is not None


def build_content(
    user_text: str,
    ts: datetime,
    messages: list[ModelMessage],
    attachments: dict[str, list[Attachment]],
    meta: dict[str, Any],
    files: Sequence[ChatFile] = (),
) -> dict[str, Any]:
    user: dict[str, Any] = {"text": user_text, "ts": ts.isoformat()}
    if files:  # additive: content without it reads as "no files"
        user["files"] = [f.to_dict() for f in files]
    return {
        "v": CONTENT_VERSION,
        "user": user,
        "assistant": {
            "messages": json.loads(ModelMessagesTypeAdapter.dump_json(messages)),
            "attachments": {k: [_stored(a) for a in v] for k, v in attachments.items()},
        },
        "meta": meta,
    }


def _stored(a: Attachment) -> dict[str, Any]:
    """An image keeps the two keys it always had, and its pixel size if known; a file adds its name and size."""
    return {k: v for k, v in asdict(a).items() if v is not None}


def migrate(content: dict[str, Any]) -> dict[str, Any]:
    """Bring stored content up to the current version (only v1 exists so far)."""
    version = content.get("v")
    if version != CONTENT_VERSION:
        raise ValueError(f"unsupported turn content version {version!r}")
    return content


def messages_of(content: dict[str, Any]) -> list[ModelMessage]:
    return ModelMessagesTypeAdapter.validate_python(migrate(content)["assistant"]["messages"])


def attachments_of(content: dict[str, Any]) -> dict[str, list[Attachment]]:
    raw = migrate(content)["assistant"].get("attachments", {})
    return {k: [Attachment(**a) for a in v] for k, v in raw.items()}


def files_of(content: dict[str, Any]) -> list[ChatFile]:
    """The files uploaded with the turn's message."""
    return [ChatFile(**f) for f in migrate(content)["user"].get("files", [])]


def meta_of(content: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = migrate(content).get("meta", {})
    return meta


def nodes_of(messages: Sequence[ModelMessage]) -> list[ModelResponse | ModelRequest]:
    """The messages that make the page's nodes, in the order the stream numbers them: each model response,
    and each request that carries tool results (a tool step). Node n of a turn is `nodes_of(...)[n]`."""
    return [m for m in messages if isinstance(m, ModelResponse)
            or (isinstance(m, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in m.parts))]


def answer_markdown(messages: Sequence[ModelMessage], n: int) -> str | None:
    """The text node n of a turn wrote, as the model wrote it (markdown), or None when node n wrote none."""
    nodes = nodes_of(messages)
    node = nodes[n] if 0 <= n < len(nodes) else None
    if not isinstance(node, ModelResponse):
        return None
    texts = [p.content for p in node.parts if isinstance(p, TextPart) and p.content.strip()]
    return "\n\n".join(texts) or None
