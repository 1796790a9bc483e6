"""The kernel tier for tests: one kernel host per test process (as the app starts one), and the sandbox as the host
makes it, probed once.

No sandbox here is a failure, not a skip: `make test` installs everything it needs (bubblewrap, the kernel's venv).
Test apps reach the shared host through VARRO_KERNEL_HOSTS; each test module and test gets a space of its own on it
(VARRO_KERNEL_SPACE), so chats with the same ids in two tests' databases never share a folder.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from varro.config import Settings
from varro.kernels.sandbox.isolation import kernel_python, limits
from varro.kernels.sandbox.plan import Sandbox
from varro.shell.host import HostClient
from varro.shell.hosts import KernelHosts
from varro.shell.local_host import LocalHost, start_local_host


@functools.cache
def shared_sandbox() -> Sandbox:
    return Sandbox.probe(kernel_python(Settings()), limits(Settings()))


class TestHost:
    """A kernel host of this test process's own, on loopback, in a temporary folder."""

    __test__ = False

    def __init__(self, token: str | None = None, **env: str) -> None:
        self.env = env
        self.folder = Path(tempfile.mkdtemp(prefix="varro-khost-"))
        self.local: LocalHost = start_local_host(self.folder / "kernels", env=env, log_path=self.folder / "host.log",
                                                 token=token)

    @property
    def url(self) -> str:
        return self.local.url

    @property
    def token(self) -> str:
        return self.local.token

    def client(self, space: str | None = None) -> HostClient:
        return HostClient(self.url, self.token, space or new_space())

    def chat_folder(self, space: str, user_id: int, chat_id: int) -> Path:
        return self.folder / "kernels" / "chats" / space / str(user_id) / str(chat_id)

    def log(self) -> str:
        return (self.folder / "host.log").read_text(errors="replace")

    def stop(self) -> None:
        self.local.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def shared_client(space: str | None = None) -> KernelHosts:
    """The test process's kernel host (tests/conftest.py), in `space` or the current test's."""
    return KernelHosts([HostClient(os.environ["VARRO_KERNEL_HOSTS"], os.environ["VARRO_KERNEL_HOST_TOKEN"],
                                   space or os.environ["VARRO_KERNEL_SPACE"])])


def new_space() -> str:
    return f"t{uuid.uuid4().hex[:12]}"
