"""A provider that cannot be reached is named in one log line at start-up, not first at the user's first message."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.server import free_port, run_server
from tests.fakes import LOCAL
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


def test_a_model_name_the_provider_does_not_serve_is_logged_and_the_real_name_shown(tmp_path: Path) -> None:
    """llama-server answers any name: the check compares ours with `/v1/models`, and the page names what answers."""
    real = "gemma-3-270m-it-Q4_K_M.gguf"
    with run_fake_openai(serves=real) as fake, run_server(tmp_path / "app", VARRO_MODEL="openai:gpt-4o",
                                                          OPENAI_BASE_URL=fake, OPENAI_API_KEY="x") as app:
        deadline = time.monotonic() + 10
        while "not what" not in app.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = [ln for ln in app.output().splitlines() if "not what" in ln]
        assert len(lines) == 1, app.output()
        assert "'gpt-4o'" in lines[0] and real in lines[0]
        with LOCAL.open(f"{app.url}/chat", timeout=10) as resp:
            page = resp.read().decode()
    assert f"openai:{real}" in page and "openai:gpt-4o" not in page


def test_a_provider_serving_the_model_named_is_not_reported(tmp_path: Path) -> None:
    with run_fake_openai(serves="local") as fake, run_server(tmp_path / "app", VARRO_MODEL="openai:local",
                                                             OPENAI_BASE_URL=fake, OPENAI_API_KEY="x") as app:
        with LOCAL.open(f"{app.url}/chat", timeout=10) as resp:
            assert "openai:local" in resp.read().decode()
        time.sleep(4)  # longer than the check may take
        assert "not what" not in app.output() and "not among" not in app.output()
