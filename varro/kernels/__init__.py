"""The kernel host: the only part of Varro Chat that runs as root.

It launches sandboxed IPython kernels through a jupyter_client kernel provisioner, owns every chat's folder (files,
snapshots, quota) and serves both to the web tier: kernels over the Jupyter Server kernels API (REST + websocket
channels), folders over a small files API beside it (`api.py`), behind a token. Run it with `python -m varro.kernels`.
The web tier reaches it through `varro.shell.host`; nothing here imports the web tier.

`varro.kernels.fs` is how it touches a chat's folder, whose contents code in the kernel controls: from directory
file descriptors, never following a link, never blocking on a FIFO, walking without recursion.
"""
