"""Work inside a folder whose contents someone else controls (a chat's folder, written by code in its kernel).

Every operation starts from a directory file descriptor and names one entry, or a path resolved beneath it: a link
is never followed (not even as a folder on the way), `..` never leaves, a FIFO or a socket is never opened for
reading, and a walk is iterative (no recursion limit, no path longer than the kernel accepts). Names are `str` with
`surrogateescape` (any byte a name holds comes back unchanged), or `bytes`.

Blocking calls only (no asyncio): callers on an event loop use `asyncio.to_thread`.
"""

from varro.kernels.fs.beneath import (
    Folder,
    NotPlain,
    open_beneath,
    open_dir,
    open_regular,
    read_prefix,
    remove_folder,
)
from varro.kernels.fs.walk import Entry, chown_tree, remove_tree, walk
from varro.names import shown

__all__ = ["Entry", "Folder", "NotPlain", "chown_tree", "open_beneath", "open_dir", "open_regular", "read_prefix",
           "remove_folder", "remove_tree", "shown", "walk"]
