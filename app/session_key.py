"""The cookie key's file, when VARRO_SECRET_KEY is not set.

Light on purpose: `python -m app` makes it as root, before dropping to the web user and importing the rest of the app.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from varro.config import Settings


def session_key_file(settings: Settings) -> Path:
    """Where the cookie key is kept when VARRO_SECRET_KEY is not set: made here, readable by its owner only
    (0600 whatever the umask), before FastHTML would write one of its own."""
    key_file = Path(settings.sqlite_path or "data/varro.db").parent / ".sesskey"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return key_file
    with os.fdopen(fd, "w") as f:
        f.write(str(uuid.uuid4()))
    return key_file
