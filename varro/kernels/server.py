"""The kernel host's server: jupyter_server with only its kernel services, our kernel manager and the files API.

jupyter_server already speaks the Jupyter kernels protocol (REST `/api/kernels`, websocket channels) and checks a
token; what it is given here is which kernels it may start (one spec, launched by the sandbox provisioner), how they
map to chats (`ChatKernelManager`), and the files API beside it (`api.py`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import Any

# jsonschema (through jupyter_events) imports rfc3987_syntax for its "iri" formats, which builds some 35 Lark parsers
# at import: 1.4 s of CPU, half of a kernel host's start, for formats no schema of jupyter_server's uses (its issue
# 1559). Marked absent before jupyter_server is imported, jsonschema leaves those two formats unchecked.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from jupyter_server.serverapp import ServerApp  # noqa: E402
from jupyter_server.utils import url_path_join  # noqa: E402
from traitlets.config import Config  # noqa: E402

from varro.kernels import api  # noqa: E402
from varro.kernels.connection import ChatConnection  # noqa: E402
from varro.kernels.manager import ChatKernelManager  # noqa: E402
from varro.kernels.sandbox.isolation import make_isolation  # noqa: E402
from varro.kernels.settings import HostSettings  # noqa: E402
from varro.kernels.specs import VarroSpecs  # noqa: E402
from varro.kernels.store import open_store  # noqa: E402

log = logging.getLogger(__name__)


class KernelHost(ServerApp):
    name = "varro-kernels"
    default_services: Any = ("api", "kernels", "kernelspecs")

    def init_webapp(self) -> None:
        super().init_webapp()
        base = self.base_url
        web_app: Any = self.web_app
        web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in api.handlers()])


def config_for(settings: HostSettings) -> Config:
    c = Config()
    c.ServerApp.ip = settings.kernel_host_bind
    c.ServerApp.port = settings.kernel_host_port
    c.ServerApp.port_retries = 0
    c.ServerApp.log_level = "WARN"  # its start-up banner and every request are not worth a line each
    c.ServerApp.open_browser = False
    c.ServerApp.allow_root = True  # the host launches sandboxed kernels as their own uids: it is root on purpose
    c.ServerApp.root_dir = str(settings.kernels_dir.resolve())
    c.ServerApp.kernel_manager_class = ChatKernelManager
    c.ServerApp.kernel_spec_manager_class = VarroSpecs
    c.ServerApp.kernel_websocket_connection_class = ChatConnection
    # No other server extension (a terminal would be a root shell), nothing served but the kernels and files APIs.
    c.ServerApp.jpserver_extensions = {"jupyter_server_terminals": False}
    c.ServerApp.terminals_enabled = False
    c.ServerApp.cookie_secret = os.urandom(32)  # no cookies are used; not written to the user's runtime folder
    c.ServerApp.disable_check_xsrf = True  # token-only API, no cookies, no browser
    c.IdentityProvider.token = settings.kernel_host_token
    c.MappingKernelManager.cull_idle_timeout = int(settings.kernel_idle_s)
    c.MappingKernelManager.cull_interval = max(1, min(60, int(settings.kernel_idle_s) // 4 or 1))
    c.MappingKernelManager.cull_connected = False  # a connected web tier is a live session
    c.KernelRestarter.time_to_dead = 0.5  # a dead kernel is found (and restarted) within half a second
    return c


async def prepare(app: KernelHost, settings: HostSettings) -> None:
    """Give the kernel manager what the provisioner and the caps read (isolation is probed once, here)."""
    manager: Any = app.kernel_manager
    assert isinstance(manager, ChatKernelManager)
    manager.isolation = await make_isolation(settings)
    manager.root = settings.kernels_dir.resolve()
    manager.memory_mb = settings.kernel_memory_mb
    manager.workdir_mb = settings.kernel_workdir_mb
    manager.per_user = settings.max_kernels_per_user
    manager.per_server = settings.max_kernels
    manager.pool_size = settings.kernel_pool
    manager.store = await open_store(settings.kernel_store, settings.kernel_workdir_mb * 2**20)
    manager.setup()
    manager.fill_pool()  # from the start, so the first chat's first cell finds a kernel waiting too


def watch_lifeline(app: KernelHost) -> None:
    """Started by a parent that holds our stdin (VARRO_KERNEL_HOST_LIFELINE=1): when it closes, however the parent
    ended, stop like on SIGTERM (kernels shut down first)."""

    def wait() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        app.stop()  # thread-safe: it schedules the stop on the server's loop, which then shuts the kernels down

    threading.Thread(target=wait, name="lifeline", daemon=True).start()


def run(settings: HostSettings) -> None:
    if not settings.kernel_host_token:
        raise SystemExit("varro.kernels: set VARRO_KERNEL_HOST_TOKEN (the web tier is given the same token)")
    settings.kernels_dir.mkdir(parents=True, exist_ok=True)
    app = KernelHost(config=config_for(settings))
    app.initialize(argv=[])
    asyncio.get_event_loop().run_until_complete(prepare(app, settings))
    if os.environ.get("VARRO_KERNEL_HOST_LIFELINE") == "1":
        watch_lifeline(app)
    app.start()


def main() -> None:
    """The `varro-kernels` console script."""
    run(HostSettings())  # type: ignore[call-arg]  # from the environment
