"""The web tier's side of the code interpreter: a chat's kernel on a kernel host (`remote.py`, over `host.py` and
`channels.py`), cell results, and replaying stored cells. The sandbox the kernels run in is the kernel host's
(`varro.kernels.sandbox`), never imported here."""

from __future__ import annotations

from varro.shell.replay import StoredCell, replay
from varro.shell.result import CellResult, Image

__all__ = ["CellResult", "Image", "StoredCell", "replay"]
