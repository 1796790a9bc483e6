"""The sandbox's rules, apart from any server: when it refuses, what a kernel's plan binds and limits, the
seccomp program, the quota on a chat's files, and the kernels' cgroups."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tests.kernels import shared_sandbox
from varro.config import Settings
from varro.shell import KernelShell, cgroup
from varro.shell.isolation import OFF_WARNING, make_isolation
from varro.shell.quota import WorkdirQuota
from varro.shell.sandbox import HOME, Limits, NoSandbox, Refused, Sandbox, Unavailable
from varro.shell.seccomp import filter_bpf

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


async def test_a_refusal_is_one_sentence_per_cell_and_in_the_log(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    reason = "Code can't run: bubblewrap is not installed."
    shell = KernelShell(tmp_path, isolation=Refused(reason))
    with caplog.at_level(logging.ERROR):
        result = await shell.execute("print('never')")
    assert result.error == f"SandboxUnavailable: {reason}"
    assert "never" not in result.to_text() and shell.status == "not started"
    assert reason in caplog.text


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
    # Nothing of the server: not its venv, its data, its database; only the kernel's env and varro/shell/inside.
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


def test_seccomp_program_is_a_filter() -> None:
    program = filter_bpf()
    assert len(program) % 8 == 0 and len(program) > 8 * 60  # one 8-byte instruction per check, dozens of them


def test_quota_counts_files_not_links_and_undoes_only_growth(tmp_path: Path) -> None:
    quota = WorkdirQuota(tmp_path, limit=100)
    (tmp_path / "kept.txt").write_bytes(b"x" * 40)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "grown.txt").write_bytes(b"x" * 10)
    outside = tmp_path.parent / "outside-quota.bin"
    outside.write_bytes(b"x" * 1000)
    (tmp_path / "link").symlink_to(outside)
    before = quota.listing()
    assert quota.used() == 50 and not quota.over()
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
