"""The agent's code interpreter: a stateful IPython kernel per chat, in its own limited process."""

from __future__ import annotations

from varro.shell.kernel import KernelShell
from varro.shell.replay import StoredCell, replay
from varro.shell.result import CellResult, Image

__all__ = ["CellResult", "Image", "KernelShell", "StoredCell", "replay"]
