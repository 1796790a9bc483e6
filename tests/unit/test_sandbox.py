"""The sandbox's rules, apart from any server: when it refuses, what a kernel's plan binds and limits, the
seccomp program, the quota on a chat's files, and the kernels' cgroups."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kernels import TestHost, shared_sandbox
from varro.config import Settings
from varro.kernels.quota import ENTRY_BYTES, WorkdirQuota
from varro.kernels.sandbox import cgroup
from varro.kernels.sandbox.isolation import OFF_WARNING, make_isolation
from varro.kernels.sandbox.plan import HOME, Limits, NoSandbox, Refused, Sandbox, Unavailable
from varro.kernels.sandbox.seccomp import filter_bpf
from varro.shell.remote import RemoteKernel

PYTHON = shared_sandbox().kernel_python


def test_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(Unavailable, match="must start as root"):
        Sandbox.probe(PYTHON, Limits())


def test_refuses_without_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(Unavailable, match="bubblewrap is not installed"):
        Sandbox.probe(PYTHON, Limits())


def test_refuses_without_the_kernel_environment(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="Python environment is missing"):
        Sandbox.probe(tmp_path / "nope" / "python", Limits())


async def test_a_refusal_is_one_sentence_per_cell_and_in_the_log(tmp_path: Path) -> None:
    """A kernel host that can't sandbox (here: no kernel environment) serves, and says why to every cell."""
    own = TestHost(VARRO_KERNEL_PYTHON=str(tmp_path / "nope" / "python"), VARRO_KERNEL_POOL="0")
    host = own.client()
    try:
        shell = RemoteKernel(host, 1, 1)
        result = await shell.execute("print('never')")
        assert (await host.health())["sandbox"].startswith("refused: ")
        logged = own.log()
    finally:
        await host.close()
        own.stop()
    assert result.error is not None and result.error.startswith("SandboxUnavailable: ")
    assert "Python environment is missing" in result.error and result.error.count(".") <= 2
    assert "never" not in result.to_text() and shell.status == "not started"
    assert "Python environment is missing" in logged


async def test_sandbox_off_is_explicit_and_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        isolation = await make_isolation(Settings(sandbox="off"))
    assert isinstance(isolation, NoSandbox)
    assert OFF_WARNING in caplog.text


async def test_no_silent_fallback_when_the_sandbox_fails(tmp_path: Path) -> None:
    isolation = await make_isolation(Settings(kernel_python=tmp_path / "missing"))
    assert isinstance(isolation, Refused) and "Python environment is missing" in isolation.reason


def test_a_plan_binds_only_what_the_kernel_needs(tmp_path: Path) -> None:
    sandbox = shared_sandbox()
    rundir, workdir = tmp_path / "run", tmp_path / "work"
    rundir.mkdir()
    workdir.mkdir()
    uid = sandbox.take_uid()
    try:
        path, cgroups = sandbox.prepare("unit-plan", uid, workdir, rundir, ["python"], {"HOME": HOME}, 512)
        cgroup.remove(cgroups)
    finally:
        sandbox.release_uid(uid)
    plan = json.loads(path.read_text())
    writable = [(src, dest) for mode, src, dest in plan["binds"] if mode == "rw"]
    assert writable == [(str(workdir), HOME), (str(rundir), str(rundir))]
    sources = [src for _, src, _ in plan["binds"]]
    repo = Path(__file__).resolve().parents[2]
    # Nothing of the server: not its venv, its data, its database; only the kernel's env and varro/kernels/sandbox/inside.
    server_venv = repo / ".venv"
    assert not any(Path(src) == repo or Path(src) == server_venv or server_venv in Path(src).parents
                   or "data" in Path(src).parts for src in sources)
    assert plan["uid"] == uid and uid >= 300_000
    assert plan["rlimits"]["AS"] == 512 * 2**20 and plan["rlimits"]["NPROC"] == sandbox.limits.max_procs
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--clearenv"):
        assert flag in plan["bwrap"]
    assert "--share-net" not in plan["bwrap"] and bytes.fromhex(plan["seccomp"]) == filter_bpf()


def test_uids_are_never_shared() -> None:
    sandbox = Sandbox(PYTHON, "bwrap", uid_base=400_000, uid_count=3)
    uids = [sandbox.take_uid() for _ in range(3)]
    assert len(set(uids)) == 3 and os.getuid() not in uids
    with pytest.raises(Unavailable):
        sandbox.take_uid()
    sandbox.release_uid(uids[1])
    assert sandbox.take_uid() == uids[1]
    for uid in uids:
        sandbox.release_uid(uid)


def test_another_server_process_never_gets_the_same_uid() -> None:
    """Two servers on one machine (two processes: here, the other takes its uids in a child process)."""
    mine = Sandbox(PYTHON, "bwrap", uid_base=410_000, uid_count=4)
    held = [mine.take_uid(), mine.take_uid()]
    script = ("from pathlib import Path\nfrom varro.kernels.sandbox.plan import Sandbox\n"
              "s = Sandbox(Path('python'), 'bwrap', uid_base=410_000, uid_count=4)\nprint(s.take_uid(), s.take_uid())")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo, check=True)
    theirs = [int(uid) for uid in out.stdout.split()]
    assert not set(theirs) & set(held) and len(set(theirs)) == 2
    for uid in held:
        mine.release_uid(uid)


def test_seccomp_program_is_a_filter() -> None:
    program = filter_bpf()
    assert len(program) % 8 == 0 and len(program) > 8 * 60  # one 8-byte instruction per check, dozens of them


def test_quota_counts_files_not_links_and_undoes_only_growth(tmp_path: Path) -> None:
    block = ENTRY_BYTES
    quota = WorkdirQuota(tmp_path, limit=5 * block)
    (tmp_path / "kept.txt").write_bytes(b"x" * (block + 40))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "grown.txt").write_bytes(b"x" * 10)
    outside = tmp_path.parent / "outside-quota.bin"
    outside.write_bytes(b"x" * 100 * block)
    (tmp_path / "link").symlink_to(outside)
    before = quota.listing()
    # kept.txt its size, sub, grown.txt and the link a block each: the file the link names not at all
    assert quota.used() == (block + 40) + 3 * block and not quota.over()
    (tmp_path / "sub" / "grown.txt").write_bytes(b"x" * 30)
    (tmp_path / "new.bin").write_bytes(b"x" * 60)
    assert quota.over()
    assert quota.undo_growth(before) == ["new.bin", "sub/grown.txt"]
    assert (tmp_path / "kept.txt").exists() and outside.exists() and not quota.over()


def test_kernel_cgroups_hold_the_limits_and_go_away() -> None:
    made = cgroup.create(f"{os.getpid()}-unit", Limits(memory_mb=300, max_procs=50))
    assert made, "this machine has writable cgroups: a kernel must get one"
    try:
        memory = next(Path(p) for p in made if "/memory/" in p)
        pids = next(Path(p) for p in made if "/pids/" in p)
        assert int((memory / "memory.limit_in_bytes").read_text()) == 300 * 2**20
        assert (pids / "pids.max").read_text().strip() == "50"
        assert not cgroup.oom_killed(made)
    finally:
        cgroup.remove(made)
    assert not any(Path(p).exists() for p in made)


# A server in a container: its cgroup is the root of its cgroup namespace, and cgroup2 is mounted from inside. Run
# in a child process (root) that makes that world: a cgroup of its own in this machine's v2 hierarchy, then new
# cgroup and mount namespaces with cgroup2 mounted where the server looks. This machine's v2 hierarchy has no
# controllers (v1 holds them), so a kernel's cgroup there cannot hold its limits: that must be said, file by file.
CONTAINER = """
import ctypes, json, os, sys
from varro.kernels.sandbox import cgroup
from varro.kernels.sandbox.plan import Limits
libc = ctypes.CDLL(None, use_errno=True)
def check(ok, what):
    if not ok:
        raise OSError(ctypes.get_errno(), what)
open(os.path.join(sys.argv[1], 'cgroup.procs'), 'w').write(str(os.getpid()))
check(libc.unshare(0x02000000 | 0x00020000) == 0, 'unshare')  # CLONE_NEWCGROUP | CLONE_NEWNS
check(libc.mount(b'none', b'/', None, 0x4000 | 0x40000, None) == 0, 'private')  # MS_REC | MS_PRIVATE
check(libc.umount2(b'/sys/fs/cgroup', 2) == 0, 'umount')  # MNT_DETACH: the v1 hierarchies go
check(libc.mount(b'cgroup2', b'/sys/fs/cgroup', b'cgroup2', 0, None) == 0, 'mount')
out = {'own': open('/proc/self/cgroup').read().splitlines()[-1]}
try:
    cgroup.create('container', Limits())
except cgroup.CgroupError as exc:
    out['error'] = str(exc)
print(json.dumps(out))
"""


def test_v2_inside_a_cgroup_namespace_finds_its_cgroup_and_names_a_missing_limit() -> None:
    mine = Path("/sys/fs/cgroup/unified") / f"varro-test-{os.getpid()}"
    mine.mkdir()
    try:
        repo = Path(__file__).resolve().parents[2]
        run = subprocess.run([sys.executable, "-c", CONTAINER, str(mine)], capture_output=True, text=True, cwd=repo,
                             env={**os.environ, "PYTHONPATH": str(repo)}, timeout=60)
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
        assert out["own"] == "0::/"  # the namespace's root: its parent is out of sight
        # The kernel's cgroup is made under the server's own (seen at /sys/fs/cgroup), not under /sys/fs; the
        # server moved to a leaf of its own so that its cgroup may hand controllers down; the missing limit is named.
        assert out["error"].startswith("the kernel's cgroup has no /sys/fs/cgroup/varro-kernel-container/memory.max")
        assert "cgroup.subtree_control" in out["error"]
        assert not (mine / "varro-kernel-container").exists()  # the half-made cgroup is gone
        assert (mine / cgroup.SERVER_LEAF).is_dir()
    finally:
        for leaf in (mine / cgroup.SERVER_LEAF, mine):
            if leaf.exists():
                leaf.rmdir()


def test_a_cgroup_mounted_outside_the_namespace_is_an_error_not_a_wrong_path() -> None:
    assert cgroup._where("/a/b", "/", Path("/sys/fs/cgroup")) == Path("/sys/fs/cgroup/a/b")
    assert cgroup._where("/a/b", "/a", Path("/mnt/cg")) == Path("/mnt/cg/b")
    with pytest.raises(cgroup.CgroupError, match="not under the cgroup mount"):
        cgroup._where("/", "/../..", Path("/sys/fs/cgroup"))
    mounts = cgroup._mounts("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
                            "35 31 0:32 /x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                            "23 1 0:21 / /sys rw - sysfs sysfs rw\n")
    assert [(r, str(p), t) for r, p, t, _ in mounts] == [("/", "/sys/fs/cgroup/unified", "cgroup2"),
                                                        ("/x", "/sys/fs/cgroup/memory", "cgroup")]


def test_a_cgroup_that_cannot_hold_the_limits_refuses_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's v2 hierarchy has no controllers: a kernel's cgroup made there has no memory.max. Start-up
    says so and runs no code, rather than start kernels with fewer limits than it promises."""
    mine = Path("/sys/fs/cgroup/unified") / f"varro-test-probe-{os.getpid()}"
    mine.mkdir()
    try:
        monkeypatch.setattr(cgroup, "_bases", lambda: {"unified": mine})
        with pytest.raises(Unavailable, match=f"has no {mine}/varro-kernel-.*-probe/memory.max"):
            Sandbox.probe(PYTHON, Limits())
        assert not list(mine.glob("varro-kernel-*"))
    finally:
        mine.rmdir()
