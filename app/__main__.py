"""`python -m app`: serve the standalone chat with uvicorn on VARRO_HOST:VARRO_PORT."""

from __future__ import annotations

import uvicorn

from app.main import create_app
from varro.config import Settings


def main() -> None:
    settings = Settings()
    print(f"Varro Chat on http://{settings.host}:{settings.port}  (model: {settings.model})", flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                ws_max_size=settings.max_message_chars * 6 + 8192, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
