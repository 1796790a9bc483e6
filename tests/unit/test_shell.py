"""A chat's kernel on a kernel host (RemoteKernel against a real host and real sandboxed ipykernel processes): output
capture, limits, interrupts, life cycle, replay."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
from collections.abc import AsyncIterator, Iterator

import psutil
import pytest

from tests.kernels import TestHost
from tests.waits import until
from varro.kernels.sandbox.plan import HOME
from varro.shell import CellResult, Image, StoredCell, replay
from varro.shell.host import HostClient
from varro.shell.remote import INTERRUPT_GRACE, RemoteKernel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def host(kernel_host: TestHost) -> AsyncIterator[HostClient]:
    client = kernel_host.client()
    yield client
    await client.close()


@pytest.fixture
async def shell(host: HostClient) -> AsyncIterator[RemoteKernel]:
    shell = RemoteKernel(host, 1, 1, timeout=10)
    yield shell
    await shell.shutdown()
    await host.delete_chat(1, 1)


@pytest.fixture(scope="module")
def own_host() -> Iterator[TestHost]:
    """A host started with server secrets in its environment and a 1 GiB memory cap per kernel."""
    host = TestHost(OPENAI_API_KEY="sk-test-secret", VARRO_SESSION_SECRET="hush", PYTHONPATH="/nowhere",
                    VARRO_KERNEL_MEMORY_MB="1024", VARRO_KERNEL_POOL="0")
    yield host
    host.stop()


def processes_of(uid: int) -> list[psutil.Process]:
    """Every live process running as `uid` on this machine (a sandboxed kernel's uid is its own)."""
    found = []
    for p in psutil.process_iter(["uids", "status", "cmdline"]):
        if p.info["uids"] is not None and uid in p.info["uids"] and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


async def kernel_uid(shell: RemoteKernel, tag: str) -> int:
    """The host uid the chat's kernel runs as: found from a child it starts with a command line of its own."""
    result = await shell.execute(f"import subprocess\nsubprocess.Popen(['sleep', '{tag}'], start_new_session=True)")
    assert result.error is None, result.error
    for _ in range(50):
        for p in psutil.process_iter(["cmdline", "uids"]):
            if p.info["cmdline"] == ["sleep", tag]:
                return int(p.info["uids"].real)
        await asyncio.sleep(0.1)
    raise AssertionError("the kernel's child was not found on the host")


async def test_print_and_last_expression(shell: RemoteKernel) -> None:
    result = await shell.execute("print('hello')\n6 * 7")
    assert result.stdout == "hello\n"
    assert result.result == "42"
    assert result.error is None and not result.timed_out
    assert result.to_text() == "[stdout]\nhello\n\n[result]\n42"


async def test_error_has_clean_traceback(shell: RemoteKernel) -> None:
    result = await shell.execute("def f():\n    return 1 / 0\nf()")
    assert result.error is not None
    assert result.error.startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in result.error and "return 1 / 0" in result.error
    assert "\x1b" not in result.error
    assert "[error]\nZeroDivisionError" in result.to_text()


async def test_state_persists_and_cells_are_serialized(shell: RemoteKernel) -> None:
    await shell.execute("counter = 1")
    # Both are queued at once; the lock runs them in order, so the second sees the first's assignment.
    first, second = await asyncio.gather(
        shell.execute("import time; time.sleep(0.3); counter += 1"), shell.execute("counter")
    )
    assert first.error is None
    assert second.result == "2"


async def test_matplotlib_plot_yields_png(shell: RemoteKernel) -> None:
    result = await shell.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
    assert result.error is None, result.error
    assert [image.media_type for image in result.images] == ["image/png"]
    assert result.images[0].data.startswith(PNG_MAGIC)
    assert "[image/png output shown to the user]" in result.to_text()


async def test_output_is_capped_keeping_head_and_tail_and_all_of_it_in_a_file(shell: RemoteKernel,
                                                                             kernel_host: TestHost) -> None:
    result = await shell.execute("print('x' * 29_999 + 'END')")
    assert result.truncated
    # 30,002 characters and a newline, of which the first 15,000 and the last 5,000 are kept.
    assert result.output_file is not None and result.output_file.startswith(".outputs/cell-")
    note = f"… [output truncated: 10003 more characters; all of the output is in the file {result.output_file}] …\n"
    assert result.stdout == "x" * 15_000 + "\n" + note + "x" * 4_996 + "END\n"
    assert result.to_text().endswith("xEND")  # the model reads the end too
    saved = kernel_host.chat_folder(shell.host.space, 1, 1) / result.output_file
    assert saved.read_text() == "x" * 29_999 + "END\n"
    small = await shell.execute("print('short')")
    assert small.output_file is None and small.stdout == "short\n"


async def test_timeout_interrupts_and_keeps_namespace(shell: RemoteKernel) -> None:
    await shell.execute("kept = 41")
    kernel_id = shell.kernel_id
    started = time.monotonic()
    result = await shell.execute("while True:\n    pass", timeout=1)
    assert time.monotonic() - started < 4
    assert result.timed_out and not result.kernel_restarted
    assert "Execution timed out after 1 s and was interrupted; the kernel and its variables are kept." in (
        result.to_text()
    )
    after = await shell.execute("kept + 1")
    assert after.result == "42"
    assert shell.kernel_id == kernel_id


async def test_cell_deaf_to_interrupt_gets_a_fresh_kernel(shell: RemoteKernel) -> None:
    code = "lost = 1\nimport signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    started = time.monotonic()
    result = await shell.execute(code, timeout=0.5)
    assert time.monotonic() - started < 0.5 + INTERRUPT_GRACE + 5
    assert result.timed_out and result.kernel_restarted
    assert "did not stop when interrupted; the kernel was restarted" in result.to_text()
    after = await shell.execute("lost")
    assert after.error is not None and after.error.startswith("NameError")
    assert shell.status == "idle"


async def test_shutdown_during_a_cell_ends_it(shell: RemoteKernel) -> None:
    await shell.start()
    running = asyncio.create_task(shell.execute("import time\ntime.sleep(30)"))
    await until(lambda: shell.status == "busy", "the cell to start")
    await shell.shutdown()
    result = await asyncio.wait_for(running, timeout=5)
    assert result.error is not None and result.error.startswith("KernelShutdown")
    assert shell.status == "not started"


async def test_cancelled_execute_interrupts_the_cell(shell: RemoteKernel) -> None:
    await shell.execute("survivor = 'here'")
    seen: list[str] = []
    # The cell has begun in the kernel once its first output is back (an interrupt before that would be lost).
    running = asyncio.create_task(shell.execute("print('spinning', flush=True)\nwhile True:\n    pass",
                                                on_output=lambda text: _append(seen, text)))
    await until(lambda: bool(seen), "the cell to start in the kernel")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # Without the interrupt this cell would queue behind the spinning one until its timeout.
    started = time.monotonic()
    assert (await shell.execute("survivor")).result == "'here'"
    assert time.monotonic() - started < 2


async def _append(seen: list[str], text: str) -> None:
    seen.append(text)


async def test_spinning_cell_does_not_block_event_loop(shell: RemoteKernel) -> None:
    await shell.start()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await shell.execute("while True:\n    pass", timeout=1)
    finally:
        task.cancel()
    assert result.timed_out
    assert ticks >= 10


async def test_env_hides_server_secrets(own_host: TestHost) -> None:
    host = own_host.client()
    shell = RemoteKernel(host, 1, 1)
    try:
        result = await shell.execute("import os\nprint(sorted(os.environ))\nprint(dict(os.environ))\nos.getcwd()")
        await host.put_file(1, 1, "seen.txt", _chunks(b"from the server"), 2**20)
        seen = await shell.execute("open('seen.txt').read()")
    finally:
        await shell.shutdown()
        await host.close()
    names = result.stdout
    assert "OPENAI_API_KEY" not in names and "sk-test-secret" not in names
    assert "VARRO_SESSION_SECRET" not in names and "PYTHONPATH" not in names and "VARRO_KERNEL_HOST_TOKEN" not in names
    assert own_host.token not in names
    # bwrap starts the kernel from an empty environment: not even jupyter's parent pid comes along.
    assert "'JPY_PARENT_PID'" not in names
    assert f"'HOME': '{HOME}'" in names
    # The chat's working directory is the kernel's home, under a name that says nothing of the host's layout.
    assert result.result == repr(HOME) and seen.result == "'from the server'"


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_memory_cap_raises_memory_error(own_host: TestHost) -> None:
    host = own_host.client()
    shell = RemoteKernel(host, 1, 2)
    try:
        await shell.execute("alive = 'yes'")
        limit = await shell.execute("import resource\nresource.getrlimit(resource.RLIMIT_AS)")
        assert limit.result == f"({1024 * 2**20}, {1024 * 2**20})"
        result = await shell.execute("blob = bytearray(4 * 1024**3)")
        assert result.error is not None and result.error.startswith("MemoryError")
        assert not result.kernel_restarted
        assert (await shell.execute("alive")).result == "'yes'" and shell.status == "idle"
    finally:
        await shell.shutdown()
        await host.close()


async def test_restart_clears_names(shell: RemoteKernel) -> None:
    await shell.execute("name = 'value'")
    await shell.restart()
    assert shell.status == "idle"
    result = await shell.execute("name")
    assert result.error is not None and result.error.startswith("NameError")


async def test_shutdown_leaves_no_process(shell: RemoteKernel) -> None:
    assert shell.status == "not started"
    uid = await kernel_uid(shell, f"60.{os.getpid()}1")
    assert uid != 0 and shell.status == "idle"
    # The kernel and the child it left running in the background (in a session of its own, so not in the kernel's
    # process group) run as the kernel's uid.
    assert len(processes_of(uid)) >= 2
    await shell.shutdown()
    await shell.shutdown()
    assert shell.status == "not started" and shell.kernel_id is None
    # The pid namespace ends with the kernel, and the cgroup is emptied: nothing of the kernel's is left.
    for _ in range(50):
        if not processes_of(uid):
            break
        await asyncio.sleep(0.1)
    assert processes_of(uid) == []


async def test_dead_kernel_is_reported_and_replaced(shell: RemoteKernel) -> None:
    result = await shell.execute("import os\nos._exit(3)")
    assert result.kernel_restarted
    assert result.error is not None and result.error.startswith("KernelDied")
    assert "variables" in result.to_text()
    assert (await shell.execute("1 + 1")).result == "2"
    # Killed between cells, from outside: the next cell runs in a fresh kernel, and says so.
    await shell.execute("before = 1")
    uid = await kernel_uid(shell, f"60.{os.getpid()}2")
    old = processes_of(uid)
    for p in old:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    # The host finds it dead and starts a fresh one (the same uid, none of the old processes: a process killed a
    # moment ago may still be listed, and the host has not noticed anything until a new one runs).
    await until(lambda: _kernel_replaced(uid, {p.pid for p in old}), "the host to replace the kernel", within_s=20)
    after = await shell.execute("2 + 2")
    assert after.result == "4" and after.kernel_restarted
    assert (await shell.execute("before")).error is not None


def _kernel_replaced(uid: int, old: set[int]) -> bool:
    running = processes_of(uid)
    return bool(running) and not {p.pid for p in running} & old


async def test_kernels_die_with_their_host() -> None:
    own = TestHost(VARRO_KERNEL_POOL="0")
    try:
        host = own.client()
        shell = RemoteKernel(host, 1, 1)
        uid = await kernel_uid(shell, f"60.{os.getpid()}3")
        assert processes_of(uid)
        own.local.process.kill()
        own.local.process.wait()
        # bwrap's --die-with-parent: the sandbox is killed with the host that started it.
        await until(lambda: not processes_of(uid), "the kernel to end with its host", within_s=5)
        await shell.detach()
        await host.close()
    finally:
        own.stop()


async def test_replay_restores_names_and_reports_changed_turns(shell: RemoteKernel) -> None:
    cells = [
        StoredCell(turn=0, code="a = 5\nprint(a)", expected="[stdout]\n5\n"),
        StoredCell(turn=2, code="b = a * 2\nb", expected="[result]\n11"),
        StoredCell(turn=4, code="object()", expected="[result]\n<object at 0x7f3a2b1c9d80>"),
        StoredCell(turn=6, code="import random\nrandom.random()", expected=None),
        StoredCell(turn=8, code="1/0", expected="[error]\nZeroDivisionError: division by zero\n  Cell In[99], line 1"),
    ]
    # Turn 2 differs in value, turn 8 in its traceback text; turn 4 only in a memory address, turn 6 is not compared.
    assert await replay(shell, cells) == [2, 8]
    assert (await shell.execute("a, b")).result == "(5, 10)"


async def test_replay_ignores_cell_numbers(shell: RemoteKernel) -> None:
    first = await shell.execute("1/0")
    cells = [StoredCell(turn=1, code="x = 1", expected=None), StoredCell(turn=3, code="1/0", expected=first.to_text())]
    assert await replay(shell, cells) == []


def test_cell_result_dict_round_trip() -> None:
    result = CellResult(
        stdout="out",
        result="1",
        images=[Image("image/png", PNG_MAGIC), Image("image/svg+xml", b"<svg/>")],
        html=["<b>x</b>"],
        timed_out=True,
        timeout=2.0,
    )
    data = result.to_dict()
    assert data["images"] == [{"media_type": "image/png"}, {"media_type": "image/svg+xml"}]
    restored = CellResult.from_dict(data)
    assert restored.to_text() == result.to_text()
    assert [image.media_type for image in restored.images] == ["image/png", "image/svg+xml"]
    assert restored.timed_out and restored.timeout == 2.0


async def test_output_is_capped_in_the_kernel_before_it_is_sent(shell: RemoteKernel) -> None:
    """A cell printing 300 MiB: the kernel sends the first 20,000 characters and a count of the rest, so neither the
    web tier nor the kernel holds the rest (IPython would otherwise keep every printed byte in its history)."""
    await shell.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await shell.execute("import sys\nfor i in range(300):\n    sys.stdout.write('y' * 2**20)")
    assert result.error is None, result.error
    assert f"… [output truncated: {300 * 2**20 - 20_000} more characters; all of" in result.stdout
    assert result.stdout.endswith("y" * 5_000)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB: the client read ~20 KB
    rss = await shell.execute("int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])")
    assert int(rss.result or 0) < 200 * 1024, rss.result  # KiB: the kernel kept none of it either


async def test_rich_outputs_are_capped_in_the_kernel(shell: RemoteKernel) -> None:
    html = await shell.execute("from IPython.display import HTML, display\ndisplay(HTML('<b>' + 'z' * 300_000))")
    assert html.html == [] and html.truncated
    # 23 displays of one small PNG (drawing 23 figures would spend the cell's time on matplotlib).
    png = "base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')"
    figures = await shell.execute(f"import base64\nfrom IPython.display import Image, display\nfor i in range(23):\n"
                                  f"    display(Image(data={png}))")
    assert len(figures.images) == 20 and figures.stdout.endswith("… [3 more images not shown]")


async def test_a_long_output_never_pushes_the_chat_past_its_quota() -> None:
    """Saving a 5 MB print in a chat with 1 MiB left of its 4 MiB: the file takes at most half of that and says where
    it stops; the kernel is not stopped for the quota, and its variables stay."""
    own = TestHost(VARRO_KERNEL_WORKDIR_MB="4", VARRO_KERNEL_POOL="0")
    host = own.client()
    shell = RemoteKernel(host, 1, 1)
    try:
        await shell.execute("kept = 7\nopen('data.bin', 'wb').write(b'0' * 3 * 2**20)")
        result = await shell.execute("for i in range(100_000):\n    print(f'line {i:06d} ' + 'x' * 40)")
        assert result.error is None and result.output_file is not None, result.error
        assert result.stdout.endswith("line 099999 " + "x" * 40 + "\n")
        saved = (own.chat_folder(host.space, 1, 1) / result.output_file).read_bytes()
        note = f"\n… [the output went on; this file stops at {2**19} bytes]\n".encode()  # half of the 1 MiB left
        assert saved.endswith(note) and len(saved) == 2**19 + len(note)
        assert saved.startswith(b"line 000000 ")
        assert (await shell.execute("kept")).result == "7"
    finally:
        await shell.shutdown()
        await host.close()
        own.stop()
