"""A provider that cannot be reached is named in one log line at start-up, not first at the user's first message."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.server import free_port, run_server
from tests.fakes.openai_server import run_fake_openai


def test_an_unreachable_provider_is_logged_once_at_start_up(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with run_server(tmp_path / "app", VARRO_MODEL="openai:local", OPENAI_BASE_URL=dead, OPENAI_API_KEY="x") as app:
        deadline = time.monotonic() + 10  # the check runs beside start-up, within 3 s
        while "unreachable" not in app.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        lines = [ln for ln in app.output().splitlines() if "unreachable" in ln]
    assert len(lines) == 1, app.output()
    assert lines[0].startswith("model provider unreachable: openai at " + dead)


def test_a_reachable_provider_is_not_reported(tmp_path: Path) -> None:
    with run_fake_openai() as fake, run_server(tmp_path / "app", VARRO_MODEL="openai:local",
                                                OPENAI_BASE_URL=fake, OPENAI_API_KEY="x") as app:
        time.sleep(4)  # longer than the check may take
        assert "unreachable" not in app.output()
