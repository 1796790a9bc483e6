"""Fixtures for the real_model tests: one llama-server per module, and the app pointed at it by the README's route
(`VARRO_MODEL=openai:<name>`, `OPENAI_BASE_URL`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.real_model.llama import Llama, make_llama
from tests.e2e.server import Server, run_server

CONTEXT = 2048  # the server's window (-c), and the app's VARRO_CONTEXT_TOKENS
ANSWER_CAP = 48  # -n: every answer stays short, so the suite stays within minutes
REQUESTS = 2  # VARRO_MODEL_REQUESTS: the base model repeats a call after its result (hermes_gemma.jinja)
TIMEOUT_S = 60  # VARRO_MODEL_TIMEOUT_S: a cold prompt took 20+ s at 40-60 tokens/s on the loaded machine


@dataclass
class RealModel:
    llama: Llama
    app: Server


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealModel]:
    data = tmp_path_factory.mktemp("real-model")
    llama = make_llama(data / "llama-server.log", ctx=CONTEXT, answer_cap=ANSWER_CAP)
    llama.start()
    try:
        with run_server(data, VARRO_MODEL="openai:gemma-3-270m", OPENAI_BASE_URL=llama.url, OPENAI_API_KEY="unused",
                        VARRO_MODEL_TIMEOUT_S=str(TIMEOUT_S), VARRO_CONTEXT_TOKENS=str(CONTEXT),
                        VARRO_MODEL_MAX_TOKENS=str(ANSWER_CAP), VARRO_TITLE_MODEL="off",
                        VARRO_MODEL_REQUESTS=str(REQUESTS)) as app:
            yield RealModel(llama, app)
    finally:
        llama.stop()
