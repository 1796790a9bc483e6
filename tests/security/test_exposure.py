"""The standalone app on a wildcard bind: DNS rebinding and demo sign-in (docs/security.md).

Bound to 0.0.0.0 it used to accept every Host header while demo mode signed in anyone, so any web page whose
name was rebound to this machine ran code here. Now a wildcard bind needs VARRO_ALLOWED_HOSTS, and demo sign-in
refuses a non-loopback bind unless VARRO_DEMO_ON_NETWORK=1. (Nothing here listens beyond loopback: the process
tests are refused before they bind.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.exposure import UnsafeExposure
from app.main import create_app
from tests.e2e.server import ROOT
from varro.config import Settings


def settings_in(tmp_path: Path, **kw: object) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", uploads_dir=tmp_path / "up",
                    kernels_dir=tmp_path / "k", **kw)  # type: ignore[arg-type]


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m app` with these settings; it must refuse before binding, so it exits by itself."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VARRO_")}
    full = {**clean, "VARRO_PORT": "1", "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            "VARRO_UPLOADS_DIR": str(tmp_path / "up"), "VARRO_KERNELS_DIR": str(tmp_path / "k"), **env}
    return subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)


def test_a_wildcard_bind_without_a_host_list_does_not_start(tmp_path: Path) -> None:
    done = start(tmp_path, VARRO_HOST="0.0.0.0", VARRO_DEMO_USER="")
    assert done.returncode != 0
    assert "did not start" in done.stderr and "VARRO_ALLOWED_HOSTS" in done.stderr and "Traceback" not in done.stderr


def test_demo_sign_in_on_a_network_bind_does_not_start_unless_told(tmp_path: Path) -> None:
    done = start(tmp_path, VARRO_HOST="0.0.0.0", VARRO_ALLOWED_HOSTS='["chat.example"]')
    assert done.returncode != 0
    assert "demo mode signs in anyone" in done.stderr and "VARRO_DEMO_ON_NETWORK" in done.stderr
    with pytest.raises(UnsafeExposure):
        create_app(settings_in(tmp_path, host="192.0.2.7"))
    create_app(settings_in(tmp_path, host="192.0.2.7", demo_on_network=True))  # told explicitly
    create_app(settings_in(tmp_path, host="::1"))  # loopback: the developer's own machine


def test_a_rebound_host_name_is_refused_on_a_wildcard_bind(tmp_path: Path) -> None:
    app = create_app(settings_in(tmp_path, host="0.0.0.0", allowed_hosts=["chat.example"], demo_on_network=True))
    with TestClient(app, base_url="http://evil.example") as evil:
        assert evil.get("/chat").status_code == 400  # evil.example, now resolving to this machine
    with TestClient(app, base_url="http://chat.example") as ours:
        assert ours.get("/chat", follow_redirects=False).status_code == 303
