"""Kernels started ahead of need: a chat takes one with its files moved in, and the pool refills."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.kernels import shared_sandbox
from varro.shell import KernelShell
from varro.shell.pool import KernelPool


async def wait_ready(pool: KernelPool, n: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while len(pool) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert len(pool) == n


async def test_a_pooled_kernel_takes_the_chats_folder_and_the_pool_refills(tmp_path: Path) -> None:
    chat = tmp_path / "kernels" / "1" / "7"
    chat.mkdir(parents=True)
    (chat / "sales.csv").write_text("a,b\n1,2\n")
    pool = KernelPool(1, tmp_path / "kernel-pool", lambda p: KernelShell(p, isolation=shared_sandbox(), timeout=20))
    pool.fill()
    try:
        await wait_ready(pool, 1)
        kernel = await pool.take(chat)
        assert kernel is not None and kernel.status == "idle" and kernel.workdir == chat.resolve()
        started = time.monotonic()
        result = await kernel.execute("import os\nprint(sorted(os.listdir('.')), open('sales.csv').read())\n"
                                      "open('out.txt', 'w').write('made here')")
        fast = time.monotonic() - started
        assert "['sales.csv'] a,b" in result.stdout
        assert (chat / "out.txt").read_text() == "made here"  # written through the sandbox into the chat's folder
        assert fast < 5  # a started kernel: no process start in the way (typically 0.1 s against 1.5 s or more)
        await wait_ready(pool, 1)  # refilled in the background
        await kernel.shutdown()
    finally:
        await pool.close()
    assert not (tmp_path / "kernel-pool").exists()


async def test_an_empty_pool_says_so() -> None:
    pool = KernelPool(0, Path("/nonexistent"), lambda p: KernelShell(p))
    pool.fill()
    assert await pool.take(Path("/nonexistent/chat")) is None
    await pool.close()
