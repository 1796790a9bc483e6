"""A snapshot of the kernel's namespace, saved and loaded inside the kernel (the server never unpickles it).

Each name is pickled on its own (cloudpickle: functions and classes defined in cells come along by value; dill for
what cloudpickle refuses, a lock say), so one name that can't be pickled (an open file, a generator) spoils nothing
else: it is listed, and the page offers to run again the cells that define it (nothing re-runs on its own). A file
handle is never reopened by a load, since reopening a file opened for writing empties it again: a closed one (a
`with open(...) as f` block's `f`, the handle inside a closed `ExcelWriter`) comes back as a closed stand-in, an
open one is not kept. Modules are kept by name and imported again. A snapshot past `limit` bytes keeps the names
that fit and lists the rest. Files are written whole, then renamed into place.

Called by the server as a hidden cell, e.g. `__import__("snapshot").save(path, limit)`; prints one JSON line.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import types
from typing import Any

import cloudpickle
import dill

VERSION = 1
# IPython's own names in the user namespace: never user state.
SKIP = {"In", "Out", "get_ipython", "exit", "quit"}


HANDLES = (io.TextIOWrapper, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.FileIO)


class ClosedHandle:
    """What a closed file handle comes back as: closed, and saying what it was."""

    closed = True

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<closed {self.what}>"


def _handle(pickler: Any, obj: Any) -> None:
    if not obj.closed:
        raise pickle.PicklingError(f"an open {type(obj).__name__} is not kept (loading it would reopen the file)")
    pickler.save_reduce(ClosedHandle, (f"{type(obj).__name__} {getattr(obj, 'name', '')!r}",), obj=obj)


class _Dill(dill.Pickler):
    """dill, except that file handles are never pickled to be reopened (see the module's docstring)."""

    dispatch = {**dill.Pickler.dispatch, **dict.fromkeys(HANDLES, _handle)}


def _pickled(value: Any) -> tuple[str, bytes]:
    """("pickle" | "dill", bytes); raises when neither can keep `value`."""
    if isinstance(value, HANDLES):
        if not value.closed:
            raise pickle.PicklingError("an open file is not kept")
        return "pickle", cloudpickle.dumps(ClosedHandle(f"{type(value).__name__} {getattr(value, 'name', '')!r}"))
    try:
        return "pickle", cloudpickle.dumps(value)
    except Exception:  # noqa: BLE001  (dill's turn)
        out = io.BytesIO()
        _Dill(out).dump(value)
        return "dill", out.getvalue()


def _user_ns() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    hidden = getattr(shell, "user_ns_hidden", {})
    return {k: v for k, v in shell.user_ns.items()
            if not k.startswith("_") and k not in SKIP and k not in hidden}


def save(path: str, limit: int) -> None:
    names: dict[str, tuple[str, Any]] = {}
    skipped: list[str] = []
    total = 0
    for name, value in _user_ns().items():
        if isinstance(value, types.ModuleType):
            names[name] = ("module", value.__name__)
            continue
        try:
            kind, blob = _pickled(value)
        except Exception:  # noqa: BLE001  (anything may fail to pickle; the name is offered to be run again instead)
            skipped.append(name)
            continue
        if total + len(blob) > limit:
            skipped.append(name)
            continue
        total += len(blob)
        names[name] = (kind, blob)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as out:
        pickle.dump({"version": VERSION, "names": names, "skipped": skipped}, out)
    os.replace(tmp, path)
    print(json.dumps({"saved": len(names), "skipped": sorted(skipped), "bytes": total}))


def load(path: str) -> None:
    with open(path, "rb") as src:
        snapshot = pickle.load(src)
    if snapshot.get("version") != VERSION:
        raise ValueError(f"snapshot version {snapshot.get('version')!r}")
    from IPython import get_ipython

    ns = get_ipython().user_ns
    failed = list(snapshot.get("skipped", []))
    restored = 0
    for name, (kind, value) in snapshot["names"].items():
        try:
            ns[name] = (importlib.import_module(value) if kind == "module" else
                        dill.loads(value) if kind == "dill" else cloudpickle.loads(value))
            restored += 1
        except Exception:  # noqa: BLE001  (a class whose module is gone, say: offered to be run again instead)
            failed.append(name)
    print(json.dumps({"restored": restored, "failed": sorted(failed)}))
