"""The web tier drops root for good, and still dies with whoever started it.

Linux clears a process's parent-death signal when it changes credentials: a web tier started as root by a supervisor
(or by the tests' server harness) that asked for that signal would, once it became its own user, outlive a parent
that was killed, holding its port and its kernel host. `drop_to` keeps the signal across the drop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from varro.config import Settings
from varro.privileges import die_with_parent

# A parent that starts a child asking to die with it; the child drops to the web user and waits; the parent prints
# the child's pid and its uid once dropped, then waits to be killed.
PARENT = """
import subprocess, sys
from varro.privileges import die_with_parent
child = subprocess.Popen([sys.executable, "-c", sys.argv[2]], preexec_fn=die_with_parent, stdout=subprocess.PIPE,
                         text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
child.wait()
"""
CHILD = """
import os, time
from varro.privileges import drop_to, parent_death_signal
drop_to({user!r}, [])
print(os.getuid(), parent_death_signal(), flush=True)
time.sleep(120)
"""


def gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_process_that_dropped_root_dies_with_its_parent() -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root, as the web tier's start does (make test runs as root, as CI does)")
    user = Settings().user
    parent = subprocess.Popen([sys.executable, "-c", PARENT, "", CHILD.format(user=user)], stdout=subprocess.PIPE,
                              text=True)
    pid = None
    try:
        pid, uid, death_signal = (int(word) for word in parent.stdout.readline().split())  # type: ignore[union-attr]
        assert uid != 0, "the child dropped root"
        assert death_signal == signal.SIGTERM, "and still asks to die with its parent"
        parent.kill()  # as a CI runner's timeout kills the test process: no clean-up of its own runs
        parent.wait()
        assert gone(pid, within_s=30), "the dropped child did not outlive its parent"
    finally:
        parent.kill()
        parent.wait()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_signal_is_the_one_asked_for() -> None:
    code = ("import signal; from varro.privileges import parent_death_signal; print(parent_death_signal())")
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    asked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           preexec_fn=lambda: die_with_parent(signal.SIGINT))
    assert (int(plain.stdout), int(asked.stdout)) == (0, signal.SIGINT)
