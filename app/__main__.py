"""`python -m app`: serve the standalone chat with uvicorn on VARRO_HOST:VARRO_PORT."""

from __future__ import annotations

from typing import Any

import uvicorn

from app.main import create_app
from varro.chat.protocol import max_frame_size
from varro.config import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn should serve the chat; a host app running its own uvicorn passes these too.

    `ws_max_size` is the largest frame a valid message can make: uvicorn closes a socket sending more
    (code 1009) before reading it into memory, and everything below gets a clear answer from the parser.
    """
    return {"host": settings.host, "port": settings.port, "ws_max_size": max_frame_size(settings.max_message_chars),
            "timeout_graceful_shutdown": 5}


def main() -> None:
    settings = Settings()
    print(f"Varro Chat on http://{settings.host}:{settings.port}  (model: {settings.model})", flush=True)
    uvicorn.run(create_app(settings), log_level="info", **uvicorn_options(settings))


if __name__ == "__main__":
    main()
