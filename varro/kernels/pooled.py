"""A pooled kernel takes a chat: the chat's files move into the kernel's own folder, which then takes the chat's name.

A kernel waits in the pool in an empty folder of its own, bind-mounted into its sandbox; the mount follows the folder,
not its name, so renaming the folder hands the running kernel the chat's files without restarting it.
"""

from __future__ import annotations

import os
from pathlib import Path

from varro.kernels import fs
from varro.kernels.sandbox.launch import chown_tree


def adopt(own: Path, folder: Path, uid: int | None) -> None:
    """Move what is in the chat's `folder` into the pooled kernel's own (empty) folder, hand it to the kernel's uid,
    and rename it to `folder`: the sandbox's bind mount follows the folder, not its name. On any failure the chat's
    files go back where they were (the pooled kernel and its folder are then let go)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    moved: list[str] = []
    try:
        if folder.exists():  # by name from descriptors: any bytes in a name, no link followed
            with fs.Folder(folder) as there, fs.Folder(own) as here:
                for name in there.names():
                    os.rename(name, name, src_dir_fd=there.fd, dst_dir_fd=here.fd)
                    moved.append(name)
            folder.rmdir()
        if uid is not None:
            chown_tree(str(own), uid)
        os.rename(own, folder)
    except BaseException:
        folder.mkdir(exist_ok=True)
        with fs.Folder(own) as here, fs.Folder(folder) as there:
            for name in moved:
                os.rename(name, name, src_dir_fd=here.fd, dst_dir_fd=there.fd)
        raise
