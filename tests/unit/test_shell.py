"""KernelShell against real ipykernel processes: output capture, limits, interrupts, lifecycle, replay."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.waits import until
from varro.shell import CellResult, Image, KernelShell, StoredCell, replay
from varro.shell import kernel as kernel_module
from varro.shell.sandbox import HOME, Sandbox

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def shell(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[KernelShell]:
    shell = KernelShell(tmp_path / "work", timeout=10, isolation=sandbox)
    yield shell
    await shell.shutdown()


def gone(pid: int) -> bool:
    """True once `pid` has exited; an orphan may linger as a zombie until its new parent reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        await asyncio.sleep(0.1)
    return gone(pid)


async def test_print_and_last_expression(shell: KernelShell) -> None:
    result = await shell.execute("print('hello')\n6 * 7")
    assert result.stdout == "hello\n"
    assert result.result == "42"
    assert result.error is None and not result.timed_out
    assert result.to_text() == "[stdout]\nhello\n\n[result]\n42"


async def test_error_has_clean_traceback(shell: KernelShell) -> None:
    result = await shell.execute("def f():\n    return 1 / 0\nf()")
    assert result.error is not None
    assert result.error.startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in result.error and "return 1 / 0" in result.error
    assert "\x1b" not in result.error
    assert "[error]\nZeroDivisionError" in result.to_text()


async def test_state_persists_and_cells_are_serialized(shell: KernelShell) -> None:
    await shell.execute("counter = 1")
    # Both are queued at once; the lock runs them in order, so the second sees the first's assignment.
    first, second = await asyncio.gather(
        shell.execute("import time; time.sleep(0.3); counter += 1"), shell.execute("counter")
    )
    assert first.error is None
    assert second.result == "2"


async def test_matplotlib_plot_yields_png(shell: KernelShell) -> None:
    result = await shell.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
    assert result.error is None, result.error
    assert [image.media_type for image in result.images] == ["image/png"]
    assert result.images[0].data.startswith(PNG_MAGIC)
    assert "[image/png output shown to the user]" in result.to_text()


async def test_output_is_capped(shell: KernelShell) -> None:
    result = await shell.execute("print('x' * 30_000)")
    assert result.truncated
    # 30,000 characters and a newline, of which 20,000 are kept.
    assert result.stdout.endswith("… [output truncated: 10001 more characters]")
    assert len(result.stdout) < 20_100


async def test_timeout_interrupts_and_keeps_namespace(shell: KernelShell) -> None:
    await shell.execute("kept = 41")
    pid = shell.pid
    started = time.monotonic()
    result = await shell.execute("while True:\n    pass", timeout=1)
    assert time.monotonic() - started < 4
    assert result.timed_out and not result.kernel_restarted
    assert "Execution timed out after 1 s and was interrupted; the kernel and its variables are kept." in (
        result.to_text()
    )
    after = await shell.execute("kept + 1")
    assert after.result == "42"
    assert shell.pid == pid


async def test_cell_deaf_to_interrupt_gets_a_fresh_kernel(shell: KernelShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_module, "INTERRUPT_GRACE", 0.5)
    code = "lost = 1\nimport signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    result = await shell.execute(code, timeout=0.5)
    assert result.timed_out and result.kernel_restarted
    assert "did not stop when interrupted; the kernel was restarted" in result.to_text()
    assert shell.status == "idle"
    after = await shell.execute("lost")
    assert after.error is not None and after.error.startswith("NameError")


async def test_shutdown_during_a_cell_ends_it(shell: KernelShell) -> None:
    await shell.start()
    running = asyncio.create_task(shell.execute("import time\ntime.sleep(30)"))
    await until(lambda: shell.status == "busy", "the cell to start")
    await shell.shutdown()
    result = await asyncio.wait_for(running, timeout=5)
    assert result.error is not None and result.error.startswith("KernelShutdown")
    assert shell.status == "not started"


async def test_cancelled_execute_interrupts_the_cell(shell: KernelShell) -> None:
    await shell.execute("survivor = 'here'")
    running = asyncio.create_task(shell.execute("while True:\n    pass"))
    await until(lambda: shell.status == "busy", "the cell to be sent")
    # No signal says the kernel itself has begun the cell (an interrupt before that is lost); give it the time.
    await asyncio.sleep(0.3)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # Without the interrupt this cell would queue behind the spinning one until its timeout.
    started = time.monotonic()
    assert (await shell.execute("survivor")).result == "'here'"
    assert time.monotonic() - started < 2


async def test_spinning_cell_does_not_block_event_loop(shell: KernelShell) -> None:
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


async def test_env_hides_server_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("VARRO_SESSION_SECRET", "hush")
    monkeypatch.setenv("PYTHONPATH", "/nowhere")
    workdir = tmp_path / "not" / "yet"
    async with KernelShell(workdir, extra_env={"GREETING": "hi"}, isolation=sandbox) as shell:
        result = await shell.execute("import os\nprint(sorted(os.environ))\nprint(dict(os.environ))\nos.getcwd()")
        (workdir / "seen.txt").write_text("from the server")
        seen = await shell.execute("open('seen.txt').read()")
    names = result.stdout
    assert "OPENAI_API_KEY" not in names and "sk-test-secret" not in names
    assert "VARRO_SESSION_SECRET" not in names and "PYTHONPATH" not in names
    # bwrap starts the kernel from an empty environment: not even jupyter's parent pid comes along.
    assert "'GREETING': 'hi'" in names and "'JPY_PARENT_PID'" not in names
    assert f"'HOME': '{HOME}'" in names
    # The chat's working directory is the kernel's home, under a name that says nothing of the server's layout.
    assert result.result == repr(HOME) and seen.result == "'from the server'"


async def test_memory_cap_raises_memory_error(tmp_path: Path, sandbox: Sandbox) -> None:
    async with KernelShell(tmp_path, memory_mb=1024, isolation=sandbox) as shell:
        pid = shell.pid
        limit = await shell.execute("import resource\nresource.getrlimit(resource.RLIMIT_AS)")
        assert limit.result == f"({1024 * 2**20}, {1024 * 2**20})"
        result = await shell.execute("blob = bytearray(4 * 1024**3)")
        assert result.error is not None and result.error.startswith("MemoryError")
        assert (await shell.execute("1 + 1")).result == "2"
        assert shell.pid == pid and shell.status == "idle"


async def test_restart_clears_names(shell: KernelShell) -> None:
    await shell.execute("name = 'value'")
    old_pid = shell.pid
    await shell.restart()
    assert shell.pid != old_pid and shell.status == "idle"
    result = await shell.execute("name")
    assert result.error is not None and result.error.startswith("NameError")


def processes_of(uid: int) -> list[int]:
    """Host pids of every process running as `uid` (a sandboxed kernel's uid is its own)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        uids = next((line.split()[1:] for line in lines if line.startswith("Uid:")), [])
        if str(uid) in uids and not gone(int(status.parent.name)):
            found.append(int(status.parent.name))
    return found


async def test_shutdown_leaves_no_process(shell: KernelShell) -> None:
    assert shell.status == "not started"
    result = await shell.execute("import subprocess\nsubprocess.Popen(['sleep', '60'], start_new_session=True).pid")
    assert result.error is None, result.error
    pid, uid = shell.pid, shell.uid
    assert pid is not None and uid is not None and shell.status == "idle"
    # The kernel and the child it left running in the background (in a session of its own, so not in the kernel's
    # process group) run as the kernel's uid.
    assert len(processes_of(uid)) >= 2
    await shell.shutdown()
    await shell.shutdown()
    assert shell.status == "not started" and shell.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # The pid namespace ends with the kernel, and the cgroup is emptied: nothing of the kernel's is left.
    for _ in range(50):
        if not processes_of(uid):
            break
        await asyncio.sleep(0.1)
    assert processes_of(uid) == []


async def test_dead_kernel_is_reported_and_replaced(shell: KernelShell) -> None:
    result = await shell.execute("import os\nos._exit(3)")
    assert result.kernel_restarted
    assert result.error is not None and result.error.startswith("KernelDied")
    assert "variables" in result.to_text()
    assert (await shell.execute("1 + 1")).result == "2"
    # Killed between cells: the status says so and the next cell runs in a fresh kernel.
    assert shell.pid is not None
    os.kill(shell.pid, signal.SIGKILL)
    for _ in range(50):
        if shell.status == "dead":
            break
        await asyncio.sleep(0.05)
    assert shell.status == "dead"
    after = await shell.execute("2 + 2")
    assert after.result == "4" and after.kernel_restarted


async def test_kernel_dies_with_its_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from varro.shell import KernelShell

        async def main() -> None:
            from varro.config import Settings
            from varro.shell.isolation import make_isolation
            shell = KernelShell(Path(sys.argv[1]), isolation=await make_isolation(Settings()))
            await shell.start()
            print(shell.pid, shell._rundir, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(tmp_path), cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), timeout=30)
    kernel_pid, rundir = line.decode().split()
    try:
        assert not gone(int(kernel_pid))
        parent.kill()
        await parent.wait()
        # bwrap's --die-with-parent: the sandbox is killed with the server that started it.
        assert await wait_gone(int(kernel_pid), within=5)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


async def test_replay_restores_names_and_reports_changed_turns(shell: KernelShell) -> None:
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


async def test_replay_ignores_cell_numbers(shell: KernelShell) -> None:
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


async def test_output_is_capped_in_the_kernel_before_it_is_sent(shell: KernelShell) -> None:
    """A cell printing 300 MiB: the kernel sends the first 20,000 characters and a count of the rest, so neither the
    server nor the kernel holds the rest (IPython would otherwise keep every printed byte in its history)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await shell.execute("import sys\nfor i in range(300):\n    sys.stdout.write('y' * 2**20)")
    assert result.error is None, result.error
    assert result.stdout.endswith(f"… [output truncated: {300 * 2**20 - 20_000} more characters]")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB: the server read ~20 KB
    rss = await shell.execute("int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])")
    assert int(rss.result or 0) < 200 * 1024, rss.result  # KiB: the kernel kept none of it either


async def test_rich_outputs_are_capped_in_the_kernel(shell: KernelShell) -> None:
    html = await shell.execute("from IPython.display import HTML, display\ndisplay(HTML('<b>' + 'z' * 300_000))")
    assert html.html == [] and html.truncated
    # 23 displays of one small PNG (drawing 23 figures would spend the cell's time on matplotlib).
    png = "base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')"
    figures = await shell.execute(f"import base64\nfrom IPython.display import Image, display\nfor i in range(23):\n"
                                  f"    display(Image(data={png}))")
    assert len(figures.images) == 20 and figures.stdout.endswith("… [3 more images not shown]")
