"""`python -m varro.kernels` (or `varro-kernels`): run a kernel host, as root for sandboxed kernels."""

from __future__ import annotations

from varro.kernels.server import main

if __name__ == "__main__":
    main()
