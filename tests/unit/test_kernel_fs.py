"""The kernel tier's filesystem layer (varro/kernels/fs) against what code in a kernel does to its folder: names
swapped with links by renameat2(RENAME_EXCHANGE) in a thread of its own, FIFOs, sockets, chains of folders deeper
and longer than any path, names that are not UTF-8. Each race counts the tries that met the link, so a test that
never reached the race fails rather than passes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from varro.kernels import fs
from varro.kernels.fs import beneath
from varro.kernels.quota import ENTRY_BYTES, WorkdirQuota
from varro.kernels.sandbox.launch import chown_tree as launch_chown_tree
from varro.kernels.snapshots import FOLDER, ROOT, Snapshots

SECRET = b"host-secret-canary\n"
# Tries go on until both sides of the race were seen (the swapper may wait for a core on a loaded machine), up to this.
MAX_TRIES = 300_000


SWAPPER = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = (p.encode() for p in sys.argv[1:3])
libc.syscall(316, -100, a, -100, b, 2)
print("swapping", flush=True)
while True:
    libc.syscall(316, -100, a, -100, b, 2)
"""


@contextmanager
def swapping(a: Path, b: Path) -> Iterator[None]:
    """`a` and `b` trade places with renameat2(RENAME_EXCHANGE) in a loop, in a process of their own (as code in a
    kernel does it), from its first swap until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", SWAPPER, str(a), str(b)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"swapping\n"
        yield
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def chat(tmp_path: Path) -> Path:
    (tmp_path / "secret").write_bytes(SECRET)  # outside the chat's folder: what a link points at
    folder = tmp_path / "chat"
    folder.mkdir()
    (folder / "x.csv").write_bytes(b"a,b\n1,2\n")
    return folder


MODES = pytest.mark.parametrize("openat2", [True, False], ids=["openat2", "one-name-at-a-time"])


@MODES
def test_a_link_dotdot_or_absolute_path_is_never_followed(chat: Path, openat2: bool) -> None:
    (chat / "out").symlink_to(chat.parent / "secret")
    (chat / "dir").symlink_to(chat.parent)
    fd = fs.open_dir(chat)
    try:
        for path in ("out", "dir/secret", "../secret", str(chat.parent / "secret"), "/etc/shadow"):
            with pytest.raises(OSError):
                os.close(beneath.open_beneath(fd, path, os.O_RDONLY, use_openat2=openat2))
        assert os.read(beneath.open_beneath(fd, "x.csv", os.O_RDONLY, use_openat2=openat2), 3) == b"a,b"
    finally:
        os.close(fd)


@MODES
def test_a_file_swapped_with_a_link_out_is_never_read(chat: Path, openat2: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beneath, "_has_openat2", None if openat2 else False)
    link = chat / "link"
    link.symlink_to(chat.parent / "secret")
    fd = fs.open_dir(chat)
    reached = read = 0
    try:
        with swapping(chat / "x.csv", link):
            for _ in range(MAX_TRIES):
                got = fs.read_prefix(fd, "x.csv", 100)
                assert got != SECRET
                reached += got is None  # the name was the link when it was opened: refused
                read += got == b"a,b\n1,2\n"
                if reached > 100 and read > 100:
                    break
    finally:
        os.close(fd)
    assert reached > 0 and read > 0, (reached, read)


@MODES
def test_a_folder_on_the_way_swapped_with_a_link_is_never_entered(chat: Path, openat2: bool) -> None:
    (chat / "sub").mkdir()
    (chat / "sub" / "secret").write_bytes(b"inside\n")
    (chat / "subl").symlink_to(chat.parent)  # the parent holds a file named `secret` too
    fd = fs.open_dir(chat)
    reached = 0
    try:
        with swapping(chat / "sub", chat / "subl"):
            for _ in range(MAX_TRIES):
                try:
                    got = os.read(opened := beneath.open_beneath(fd, "sub/secret", os.O_RDONLY, use_openat2=openat2), 99)
                    os.close(opened)
                except OSError:
                    reached += 1
                    if reached > 100:
                        break
                    continue
                assert got == b"inside\n"
    finally:
        os.close(fd)
    assert reached > 0


def test_a_fifo_or_a_socket_is_refused_without_blocking(chat: Path) -> None:
    os.mkfifo(chat / "pipe.csv")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(chat / "sock.csv"))
        fd = fs.open_dir(chat)
        results: list[object] = []
        # No writer ever opens the FIFO: a blocking open would never return, and the join below would time out.
        worker = threading.Thread(target=lambda: results.extend(fs.read_prefix(fd, n, 10) for n in ("pipe.csv", "sock.csv")))
        worker.start()
        worker.join(timeout=30)
        os.close(fd)
    assert not worker.is_alive() and results == [None, None]
    with pytest.raises(fs.NotPlain):
        fs.open_regular(fd := fs.open_dir(chat), "pipe.csv")
    os.close(fd)


def deep_chain(top: Path, levels: int, name: str = "d" * 20) -> int:
    """`levels` nested folders below `top` (the whole path far past PATH_MAX); a file at the bottom. Returns its size."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    out = os.open("bottom.bin", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, b"x" * 90_000)
    os.close(out)
    os.close(fd)
    return 90_000


def fds_under(path: Path) -> int:
    """This process's descriptors open on `path` or below it (a removed folder's read "... (deleted)"): counted by
    what they point at, since the test worker's other threads open and close descriptors of their own meanwhile."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(path))
    return count


def test_a_chain_1100_deep_and_past_path_max_is_walked_chowned_counted_and_removed(chat: Path) -> None:
    size = deep_chain(chat, 1100)  # 1100 * 21 bytes: over 23,000 bytes of path
    with fs.Folder(chat) as folder:
        entries = list(fs.walk(folder.fd, budget=16))
        assert sum(e.kind == "dir" for e in entries) == 1100
        assert max(len(e.rel) for e in entries) > 4096 * 5
        assert fs.chown_tree(folder.fd, 54321) == len(entries) + 1
        assert all(e.uid == 54321 for e in fs.walk(folder.fd))
    launch_chown_tree(str(chat), 54322)  # the launcher's copy, loaded by its path: no RecursionError either
    quota = WorkdirQuota(chat, limit=100 * 2**20)
    assert quota.used() == size + 1101 * ENTRY_BYTES  # x.csv and bottom.bin at their block, 1100 folders
    fs.remove_folder(chat)
    assert not chat.exists() and fds_under(chat) == 0, "every descriptor the walk, the chown and the removal opened is closed"


def test_a_wide_tree_at_every_level_holds_a_bounded_number_of_descriptors(chat: Path) -> None:
    fd = os.open(chat, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(300):  # two folders at every level: a walk that kept every ancestor open would hold 300
        os.mkdir("side", dir_fd=fd)
        os.mkdir("down", dir_fd=fd)
        nxt = os.open("down", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)
    most = 0
    with fs.Folder(chat) as folder:
        base = fds_under(chat)
        for _ in fs.walk(folder.fd, budget=8):
            most = max(most, fds_under(chat) - base)
    assert most <= 8 + 2  # the budget, and scandir's own descriptor
    fs.remove_folder(chat)
    assert not chat.exists()


def test_names_that_are_not_utf8_are_walked_read_and_shown(chat: Path) -> None:
    raw = b"caf\xe9 \xff.csv"
    with open(os.path.join(bytes(chat), raw), "wb") as f:
        f.write(b"ok\n")
    with fs.Folder(chat) as folder:
        names = {e.name for e in fs.walk(folder.fd)}
        name = next(n for n in names if n != "x.csv")
        assert os.fsencode(name) == raw
        assert fs.read_prefix(folder.fd, name, 10) == fs.read_prefix(folder.fd, raw, 10) == b"ok\n"
    assert fs.shown(raw) == "caf\\xe9 \\xff.csv" and fs.shown("plain é") == "plain é"
    assert fs.shown(raw).encode("utf-8")  # any page or database takes it


def test_removing_a_tree_removes_links_never_what_they_name(chat: Path) -> None:
    (chat / "d").mkdir()
    (chat / "d" / "out").symlink_to(chat.parent / "secret")
    (chat / "d" / "up").symlink_to(chat.parent)
    fs.remove_folder(chat)
    assert not chat.exists() and (chat.parent / "secret").read_bytes() == SECRET


def test_snapshots_as_a_link_to_another_chats_are_left_alone(tmp_path: Path) -> None:
    other, mine = tmp_path / "a", tmp_path / "b"
    (other / FOLDER).mkdir(parents=True)
    for k in range(4):
        (other / FOLDER / f"turn-{k}.pkl").write_bytes(b"a's namespace")
    mine.mkdir()
    (mine / ROOT).symlink_to(other / ROOT)
    snapshots = Snapshots(mine)
    assert snapshots.turns() == []
    snapshots.prune(keep=0)
    assert sorted(p.name for p in (other / FOLDER).iterdir()) == [f"turn-{k}.pkl" for k in range(4)]


def test_the_quota_counts_empty_folders_and_stops_counting_once_over(chat: Path) -> None:
    quota = WorkdirQuota(chat, limit=40 * ENTRY_BYTES)
    for i in range(60):
        (chat / f"empty-{i}").mkdir()
    assert quota.over()
    assert quota.used(stop_above=quota.limit) <= quota.limit + ENTRY_BYTES < quota.used()
