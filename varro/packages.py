"""Which packages a chat's code used, with the versions the kernel's own environment (.venv-kernel) holds.

An exported notebook lists them so it re-runs elsewhere: `import seaborn` in a cell becomes `seaborn==0.13.2`.
Read from the environment's metadata on disk (never by running its Python), once per environment.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w., ]+))", re.MULTILINE)


def site_packages(python: Path) -> list[Path]:
    """The site-packages folders of the venv whose interpreter is `python` (not resolved: a venv's python is a link)."""
    return sorted(python.parent.parent.glob("lib/python3*/site-packages"))


def _top_level(dist: importlib.metadata.Distribution) -> set[str]:
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return set(declared)
    names = set()
    for file in dist.files or ():
        first = file.parts[0] if file.parts else ""
        if first.endswith((".dist-info", ".data", ".egg-info")) or first in ("..", "__pycache__"):
            continue
        names.add(first.removesuffix(".py") if len(file.parts) == 1 else first)
    return {n for n in names if n.isidentifier()}


@functools.cache
def environment(python: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({distribution: version}, {top-level module: distribution}) of the environment of `python`."""
    versions: dict[str, str] = {}
    modules: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=[str(p) for p in site_packages(python)]):
        name = dist.metadata["Name"]
        if not name or name in versions:
            continue
        versions[name] = dist.version
        for module in _top_level(dist):
            modules.setdefault(module, name)
    return versions, modules


def imported_modules(code: str) -> list[str]:
    """The top-level modules a cell imports, in order; a cell with IPython syntax (`%magic`, `!cmd`) by its lines."""
    found: list[str] = []
    try:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                found += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module.split(".")[0])
    except SyntaxError:
        for frm, names in _IMPORT_LINE.findall(code):
            found += [frm.split(".")[0]] if frm else [n.strip().split(".")[0].split(" ")[0] for n in names.split(",")]
    return list(dict.fromkeys(m for m in found if m))


Environment = tuple[dict[str, str], dict[str, str]]  # ({distribution: version}, {top-level module: distribution})


def used_packages(codes: Iterable[str], env: Environment) -> dict[str, str]:
    """{distribution: version} for what the cells import from the kernel's environment `env` (see `environment`; the
    standard library and modules it lacks are left out), in the order first imported."""
    versions, modules = env
    used: dict[str, str] = {}
    for code in codes:
        for module in imported_modules(code):
            if (dist := modules.get(module)) is not None:
                used.setdefault(dist, versions[dist])
    return used


def pip_line(packages: Mapping[str, str]) -> str:
    return "%pip install " + " ".join(f"{name}=={version}" for name, version in packages.items())
