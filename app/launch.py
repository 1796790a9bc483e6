"""Starting the two tiers from one command: the kernel host as root, then the web tier as its own user.

`python -m app` and a host app's own entry point (examples/assistant.py) call `split_tiers` before they serve.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.session_key import session_key_file
from varro.config import Settings
from varro.privileges import CannotDrop, drop_to
from varro.shell.local_host import HostDidNotStart, LocalHost, spawn_local_host


def split_tiers(settings: Settings, wait: bool = True) -> LocalHost | None:
    """Started as root: the kernel host (unless VARRO_KERNEL_HOSTS names others) is started as root, then this
    process becomes VARRO_USER for good before it serves anything; `settings` (and the environment, for worker
    processes) then name the host. Not root: nothing to do (the app starts a host of its own user if it needs one).
    The caller stops the returned host when it is done serving. `wait=False` returns while the host still starts
    (`python -m app` imports the web tier meanwhile): the caller waits for it (`wait_ready`) before serving."""
    if os.geteuid() != 0:
        return None
    web_folders = web_data(settings)
    kernels = Path(settings.kernels_dir).resolve()
    if any(kernels.is_relative_to(folder.resolve()) for folder in web_folders):
        raise SystemExit(f"Varro Chat did not start: VARRO_KERNELS_DIR ({kernels}) is inside a folder the web tier "
                         "owns; the kernel host's folders must be root's alone.")
    local = None
    if not settings.kernel_host_list:
        local = spawn_local_host(kernels)
        os.environ.update(VARRO_KERNEL_HOSTS=local.url, VARRO_KERNEL_HOST_TOKEN=local.token)
        settings.kernel_hosts, settings.kernel_host_token = local.url, local.token
    session_key_file(settings)  # made now, so that it is handed over with the data folder
    try:
        user = drop_to(settings.user, web_folders)
    except CannotDrop as exc:
        if local is not None:
            local.stop()
        raise SystemExit(f"Varro Chat did not start: {exc}") from None
    print(f"Varro Chat: the web tier runs as {user.pw_name} (uid {user.pw_uid}); "
          f"kernels on {os.environ.get('VARRO_KERNEL_HOSTS', '')}", flush=True)
    if local is not None and wait:
        ready(local)
    return local


def ready(local: LocalHost) -> None:
    """Wait until the kernel host `split_tiers` started answers; if it never does, stop it and say so in one line."""
    try:
        local.wait_ready()
    except HostDidNotStart as exc:
        local.stop()
        raise SystemExit(f"Varro Chat did not start: {exc}") from None


def web_data(settings: Settings) -> list[Path]:
    """The folders the web tier writes: the SQLite database's (or the session key's), the files copied out of chats,
    and a trace file's."""
    folders = [Path(settings.uploads_dir)]
    if (db := settings.sqlite_path) is not None:
        folders.append(db.parent)
    else:
        folders.append(session_key_file(settings).parent)
    if settings.trace_file:  # the benchmarks' trace of frames
        folders.append(Path(settings.trace_file).parent)
    return folders
