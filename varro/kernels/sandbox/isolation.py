"""How this server's kernels are isolated, decided once at start-up from the settings."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Literal, Protocol

from varro.kernels.sandbox import cgroup
from varro.kernels.sandbox.plan import Isolation, Limits, NoSandbox, Refused, Sandbox, Unavailable

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parents[3]
OFF_WARNING = ("VARRO_SANDBOX=off: code cells run unsandboxed, as the server's own user, with the server's view of "
               "the machine; this is only for a single trusted user on their own machine")


class SandboxSettings(Protocol):
    """What the sandbox is made from: the kernel host's settings, or the web tier's for tools and tests."""

    sandbox: Literal["on", "off"]
    kernel_python: Path | None
    kernel_memory_mb: int
    kernel_max_procs: int
    kernel_workdir_mb: int
    kernel_tmp_mb: int
    sandbox_uid_base: int


def kernel_python(settings: SandboxSettings) -> Path:
    return settings.kernel_python or PROJECT / ".venv-kernel" / "bin" / "python"


def limits(settings: SandboxSettings) -> Limits:
    return Limits(memory_mb=settings.kernel_memory_mb, max_procs=settings.kernel_max_procs,
                  file_mb=settings.kernel_workdir_mb, workdir_mb=settings.kernel_workdir_mb,
                  tmp_mb=settings.kernel_tmp_mb)


async def make_isolation(settings: SandboxSettings) -> Isolation:
    """The sandbox, or with VARRO_SANDBOX=off no sandbox; where none can be made, a refusal (never a silent
    fallback to an unsandboxed kernel)."""
    python = kernel_python(settings)
    if settings.sandbox == "off":
        log.warning(OFF_WARNING)
        return NoSandbox(python if python.exists() else Path(sys.executable))
    try:
        await asyncio.to_thread(cgroup.sweep)
        sandbox = await asyncio.to_thread(Sandbox.probe, python, limits(settings), settings.sandbox_uid_base)
    except Unavailable as exc:
        log.error("%s", exc)
        return Refused(str(exc))
    log.info("kernels run sandboxed (bubblewrap, uids from %d)", settings.sandbox_uid_base)
    return sandbox
