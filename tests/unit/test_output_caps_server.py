"""The server's own caps on what one cell sends, whatever the kernel does: the kernel's caps run inside the sandbox,
where code in a cell can step around them and write to the kernel's output socket itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kernels import TestHost
from varro.shell.remote import RemoteKernel
from varro.shell.result import (
    LIVE_STOPPED,
    MAX_LIVE_CHARS,
    MAX_RICH_CHARS,
    MAX_RICH_OUTPUTS,
    OutputCollector,
    rich_note,
)

# Code in a cell sends iopub messages of its own through the kernel's session, past the kernel's output caps.
RAW = ("k = get_ipython().kernel\n"
       "def send(kind, content):\n"
       "    k.session.send(k.iopub_socket, kind, content, parent=k.get_parent('shell'))\n")


@pytest.fixture
async def shell(kernel_host: TestHost) -> AsyncIterator[RemoteKernel]:
    host = kernel_host.client()
    shell = RemoteKernel(host, 1, 1, timeout=60)
    yield shell
    await shell.shutdown()
    await host.close()


async def test_550_html_outputs_of_186_mb_are_refused_with_a_note(shell: RemoteKernel) -> None:
    code = RAW + ("page = '<p>' + 'x' * 338_000\nfor i in range(550):\n"
                  "    send('display_data', {'data': {'text/html': page}, 'metadata': {}})\nprint('sent', 550 * len(page))")
    result = await shell.execute(code)
    assert "sent 185901650" in result.stdout  # 186 MB left the kernel
    assert len(result.html) <= MAX_RICH_OUTPUTS and sum(map(len, result.html)) <= MAX_RICH_CHARS
    assert result.truncated and rich_note(550 - len(result.html)) in result.stdout
    assert "more tables or charts not shown" in result.to_text()


async def test_live_output_stops_at_its_cap_and_the_cell_runs_on(shell: RemoteKernel) -> None:
    sent: list[str] = []

    async def on_output(text: str) -> None:
        sent.append(text)

    code = RAW + ("for i in range(60):\n    send('stream', {'name': 'stdout', 'text': 'y' * 10_000})\n"
                  "send('stream', {'name': 'stdout', 'text': 'finished'})")
    result = await shell.execute(code, on_output=on_output)
    live = "".join(sent)
    assert len(live) == MAX_LIVE_CHARS + len(LIVE_STOPPED) and live.endswith(LIVE_STOPPED)
    assert result.error is None and result.truncated  # the result keeps its own capped text, with its count


def test_the_caps_count_charts_and_tables_together() -> None:
    collector = OutputCollector()
    for _ in range(MAX_RICH_OUTPUTS - 1):
        collector.feed("display_data", {"data": {"text/html": "<b>t</b>"}})
    collector.feed("display_data", {"data": {"application/vnd.plotly.v1+json": {"data": []}}})
    collector.feed("display_data", {"data": {"application/vnd.plotly.v1+json": {"data": []}}})
    collector.feed("display_data", {"data": {"text/html": "<b>t</b>"}})
    result = collector.build()
    assert len(result.html) == MAX_RICH_OUTPUTS - 1 and len(result.charts) == 1
    assert result.stdout.endswith(rich_note(2))
    # Bytes as well as counts: a few large outputs stop where their characters together reach the cap.
    big = OutputCollector()
    for _ in range(60):
        big.feed("display_data", {"data": {"application/vnd.plotly.v1+json": {"x": "z" * 1_900_000}}})
    assert len(big.build().charts) == MAX_RICH_CHARS // 1_900_000
