"""A cell's begin and end ride on its kernel's channels (varro/kernels/connection.py, varro/shell/remote.py): the host
watches the chat's folder from the cell's arrival and tells the cell's end after its idle status, with no REST round
trip; a cell that does not go idle is ended over REST; a cell the web tier left does not end the next one's watch.
And a chat deleted while its host restarts its dead kernel is deleted (jupyter_client's shutdown raised then)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.kernels import TestHost
from tests.waits import until
from varro.shell.remote import RemoteKernel


@pytest.fixture
async def counted(kernel_host: TestHost) -> AsyncIterator[tuple[RemoteKernel, list[str]]]:
    """A chat's kernel whose host client records each cell ended over REST."""
    host = kernel_host.client()
    asked: list[str] = []
    over_rest = host.end_cell

    async def end_cell(user_id: int, chat_id: int) -> dict[str, Any]:
        asked.append(f"{user_id}/{chat_id}")
        return await over_rest(user_id, chat_id)

    host.end_cell = end_cell  # type: ignore[method-assign]
    shell = RemoteKernel(host, 7, 7, timeout=20)
    yield shell, asked
    await shell.shutdown()
    await host.delete_chat(7, 7)
    await host.close()


async def test_a_cell_that_goes_idle_is_ended_on_its_channels(counted: tuple[RemoteKernel, list[str]]) -> None:
    shell, asked = counted
    await shell.execute("1")
    asked.clear()
    result = await shell.execute("open('made.txt', 'w').write('x')\n'done'")
    assert result.result == "'done'"
    assert result.files == ["made.txt"], "the host's end of the cell names the file it wrote"
    assert asked == [], "a cell that went idle needs no REST round trip to end"


async def test_a_cell_whose_kernel_dies_is_ended_over_rest(counted: tuple[RemoteKernel, list[str]]) -> None:
    shell, asked = counted
    result = await shell.execute("import os\nopen('partial.txt', 'w').write('x')\nos._exit(5)")
    assert result.error is not None and result.error.startswith("KernelDied"), result.error
    assert "exited with code 5" in result.error, "the host's account of the death, asked for over REST"
    assert asked == ["7/7"]
    assert result.files == ["partial.txt"]
    # Deleted at once, while the host still restarts the dead kernel: deleted, not a 500 from the host.
    await shell.shutdown()
    await shell.host.delete_chat(7, 7)


async def test_a_cell_left_running_does_not_end_the_next_cells_watch(counted: tuple[RemoteKernel, list[str]]) -> None:
    shell, _ = counted
    seen: list[str] = []

    async def on_output(text: str) -> None:
        seen.append(text)

    # Deaf to the interrupt the cancel sends: it goes idle only after the next cell has reached the host.
    left = asyncio.create_task(shell.execute(
        "import signal, time\nsignal.signal(signal.SIGINT, lambda *a: None)\nprint('go', flush=True)\ntime.sleep(2)",
        on_output=on_output))
    await until(lambda: bool(seen), "the first cell to start in the kernel")
    left.cancel()
    with pytest.raises(asyncio.CancelledError):
        await left
    result = await shell.execute("open('after.txt', 'w').write('y')\n'written'")
    assert result.result == "'written'"
    assert result.files == ["after.txt"], "the left cell's idle ended this cell's watch"
