"""The kernel's entry point inside the sandbox: ipykernel, with the changes the sandbox and the output caps need.

Runs in the kernel's own Python environment, bound read-only at /opt/varro; it imports nothing of the server.

ipykernel forwards the output of forked subprocesses over a zmq pipe bound to tcp://127.0.0.1. The sandbox's
seccomp filter refuses every socket but a Unix one, so that pipe moves to an ipc socket in the sandbox's private
/tmp (ipykernel is pinned in kernel-requirements.in: these are its private methods).
"""

from __future__ import annotations

import os
import tempfile

import output_caps  # beside this file (the script's folder is first on sys.path)
import tables
import zmq
from ipykernel import iostream, kernelapp
from zmq.eventloop.zmqstream import ZMQStream


def _setup_pipe_in(self: iostream.IOPubThread) -> None:
    self._pipe_uuid = os.urandom(16)
    pipe_in = self.socket.context.socket(zmq.PULL)
    pipe_in.linger = 0
    self._varro_pipe = f"ipc://{tempfile.gettempdir()}/.iopub-pipe-{os.getpid()}"
    pipe_in.bind(self._varro_pipe)
    self._pipe_in = ZMQStream(pipe_in, self.io_loop)
    self._pipe_in.on_recv(self._handle_pipe_msg)


def _setup_pipe_out(self: iostream.IOPubThread) -> tuple[zmq.Context, zmq.Socket]:
    ctx = zmq.Context()  # a new context after fork, as ipykernel does
    pipe_out = ctx.socket(zmq.PUSH)
    pipe_out.linger = 3000
    pipe_out.connect(self._varro_pipe)
    return ctx, pipe_out


iostream.IOPubThread._setup_pipe_in = _setup_pipe_in
iostream.IOPubThread._setup_pipe_out = _setup_pipe_out


class _Forget(dict):  # type: ignore[type-arg]
    """IPython 9 keeps every cell's printed text and displayed data in `history_manager.outputs`, in memory, for
    the life of the kernel (a cell printing a GiB keeps that GiB, every figure stays): nothing here reads it back,
    so each lookup hands out a fresh list that is dropped at once."""

    def __missing__(self, key: object) -> list[object]:
        return []


def main() -> None:
    # Plotly figures as their JSON (application/vnd.plotly.v1+json), which the page draws with its own plotly.js,
    # not as HTML carrying a script that the page would never run.
    os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
    output_caps.install()
    app = kernelapp.IPKernelApp.instance()
    app.initialize()
    app.shell.history_manager.outputs = _Forget()
    tables.install(app.shell)  # DataFrames also as a table the page can sort, filter and download
    app.shell.events.register("post_execute", lambda: output_caps.report(app.shell))
    app.start()


if __name__ == "__main__":
    main()
