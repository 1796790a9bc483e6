"""The kernel sandbox for tests, as the server makes it, probed once per test process.

No sandbox here is a failure, not a skip: `make test` installs everything it needs (bubblewrap, the kernel's venv).
"""

from __future__ import annotations

import functools

from varro.config import Settings
from varro.shell.isolation import kernel_python, limits
from varro.shell.sandbox import Sandbox


@functools.cache
def shared_sandbox() -> Sandbox:
    return Sandbox.probe(kernel_python(Settings()), limits(Settings()))
