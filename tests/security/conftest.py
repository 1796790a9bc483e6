"""Fixtures for the security tests: Chromium as in tests/e2e, servers in subprocesses, and the size switch.

Heavy tests (kill -9 trials, socket drops, load) run a reduced size by default so `make test` stays quick;
`VARRO_FULL_TRIALS=1` runs them at full size (the figures in docs/security.md come from that).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import WS_FLAG, browser_type_launch_args, server  # noqa: F401  (fixtures, reused)
from tests.e2e.server import Server, run_server
from tests.security.dom import WATCH

FULL = os.environ.get("VARRO_FULL_TRIALS") == "1"
HOST_MODULE = "tests.security.host"


# Many simulated users at once, all from 127.0.0.1: the budgets per client address, which exist to stop one address
# from doing this, are lifted for the tests that do it on purpose (load). tests/security/test_address_limits.py
# tests the budgets themselves.
ONE_ADDRESS_CROWD = {"VARRO_MAX_SOCKETS_PER_ADDRESS": "100000", "VARRO_ADDRESS_FRAMES_PER_S": "1000000",
                     "VARRO_ADDRESS_FRAME_BURST": "1000000"}


def size(reduced: int, full: int) -> int:
    """How many trials (or sessions) to run: `full` with VARRO_FULL_TRIALS=1, else `reduced`."""
    return full if FULL else reduced


@contextmanager
def host_server(data: Path, **env: str) -> Iterator[Server]:
    """The chat behind a test host with `/login/{name}` and `/_lag` (tests/security/host.py)."""
    with run_server(data, module=HOST_MODULE, **env) as srv:
        yield srv


@pytest.fixture
def page(page):  # noqa: ANN001, ANN201  (pytest-playwright's Page)
    """A page that records CSP violations and active markup from the start (see tests/security/dom.py)."""
    page.add_init_script(WS_FLAG)
    page.add_init_script(WATCH)
    page.set_default_timeout(20_000)
    return page
