"""How a kernel process is started: its command, its environment, and (run as a script) its resource limits.

As a script, `python launch.py --memory-mb N -- CMD ARGS...` sets the limits and `os.execvp`s CMD. It is run by file
path, not `-m varro.shell.launch`, so that starting a kernel imports nothing from varro (nor jupyter_client) and does
not depend on the kernel's sys.path; hence only the standard library is imported here. `execvp` keeps the pid, so the
kernel stays the server's direct child: jupyter_client's signals and ipykernel's parent poller (JPY_PARENT_PID) work.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from pathlib import Path

USAGE = "usage: launch.py --memory-mb N -- CMD [ARGS...]"
# Variables copied from the server; everything else (API keys, VARRO_*, ...) stays out of the kernel.
PASSTHROUGH_ENV = ("LANG", "TZ", "TMPDIR")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def kernel_argv(memory_mb: int) -> list[str]:
    # -Xfrozen_modules=off as in ipykernel's own kernel spec: it silences debugpy's startup warning.
    ipykernel = [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return [sys.executable, str(Path(__file__).resolve()), "--memory-mb", str(memory_mb), "--", *ipykernel]


def kernel_env(workdir: Path, rundir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PASSTHROUGH_ENV or k.startswith("LC_")}
    env.setdefault("LANG", "C.UTF-8")
    # The venv's bin first, so `!pip`/`!python` in a cell mean the kernel's own interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    env.update(
        HOME=str(workdir),
        # Agg would render nothing visible; the inline backend turns figures into display_data (image/png).
        MPLBACKEND=INLINE_BACKEND,
        # Shared so the font cache is built once, not on every kernel's first plot.
        MPLCONFIGDIR=str(Path(tempfile.gettempdir()) / f"varro-mplconfig-{os.getuid()}"),
        # IPython's profile lives with the connection file, outside the user's working directory.
        IPYTHONDIR=str(rundir / "ipython"),
        # glibc reserves 64 MiB of address space per thread arena and OpenBLAS a buffer per thread: without these
        # an idle kernel with numpy loaded maps ~1 GiB and an RLIMIT_AS cap would be spent before any user data.
        MALLOC_ARENA_MAX="2",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    env.update(extra_env or {})
    return env


def apply_limits(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    # Soft and hard alike, so user code cannot raise the cap again.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # A crashing kernel should not write a core file of up to `limit` bytes into its working directory.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] != "--memory-mb" or argv[2] != "--" or not argv[1].isdigit():
        sys.exit(USAGE)
    apply_limits(int(argv[1]))
    command = argv[3:]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
