"""A snapshot of the kernel's namespace, saved and loaded inside the kernel (the server never unpickles it).

Each name is pickled on its own (cloudpickle: functions and classes defined in cells come along by value), so one
name that can't be pickled (an open file, a generator, a lock) spoils nothing else: it is listed, and the server
replays the cells that define it. Modules are kept by name and imported again. A snapshot past `limit` bytes
keeps the names that fit and lists the rest. Files are written whole, then renamed into place.

Called by the server as a hidden cell, e.g. `__import__("snapshot").save(path, limit)`; prints one JSON line.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import types
from typing import Any

import cloudpickle

VERSION = 1
# IPython's own names in the user namespace: never user state.
SKIP = {"In", "Out", "get_ipython", "exit", "quit"}


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
            blob = cloudpickle.dumps(value)
        except Exception:  # noqa: BLE001  (anything may fail to pickle; the name is replayed instead)
            skipped.append(name)
            continue
        if total + len(blob) > limit:
            skipped.append(name)
            continue
        total += len(blob)
        names[name] = ("pickle", blob)
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
            ns[name] = importlib.import_module(value) if kind == "module" else cloudpickle.loads(value)
            restored += 1
        except Exception:  # noqa: BLE001  (a class whose module is gone, say: replayed instead)
            failed.append(name)
    print(json.dumps({"restored": restored, "failed": sorted(failed)}))
