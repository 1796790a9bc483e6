"""The escape suite's host-side class: attacks on what the kernel host does, as root, inside a chat's folder (the web
tier, unprivileged, only asks it).

Every attack is a real cell of bob's (the attacker), sent through the real server (the host app) to his real
sandboxed kernel, against a canary on the host outside his folder: a file of the server's (content, owner, presence
checked afterwards), alice's snapshots, or the server itself answering alice. Races are run by a process of bob's in
his sandbox that swaps names with renameat2(RENAME_EXCHANGE) in a loop while the server works on them; each test
counts the tries that reached the race (the name was the link, or the FIFO, when the server opened it) and fails if
none did, so a defence that was never tried does not pass. Tries and waits are bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server, kernels_dir
from tests.security.client import stored_turns
from tests.security.conftest import ONE_ADDRESS_CROWD, host_server
from tests.security.sandbox_console import Console
from varro.kernels import fs
from varro.kernels.snapshots import KEEP
from varro.shell.snapshots import FOLDER, ROOT

WORKDIR_MB = 40  # a chat's files, as the attack table has it
CANARY = b"host canary: must never reach a prompt, a page or a chat's folder\n"
MAX_TRIES = 200  # sends per race, at most (most are refused at once: the name was not a plain file when sent)
ENOUGH = 2  # tries that reached the race: enough to stop early
DEEP = 1100  # folders in a chain: past the recursion limit of anything recursive

# A process of the cell's own, left running after it: `a` and `b` trade places until the kernel ends.
SWAPPER = r'''
import ctypes, subprocess, sys
code = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
while True:
    libc.syscall(316, -100, a, -100, b, 2)
"""
subprocess.Popen([sys.executable, "-c", code, %r, %r], start_new_session=True)
print("swapping")
'''


@dataclass
class World:
    srv: Server
    alice: Console
    bob: Console
    canary: Path

    def workdir(self, who: Console) -> Path:
        """The chat's folder, where the kernel host keeps it."""
        return self.srv.chat_folder(who.user_id, who.chat_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("hostside")
    env = {"VARRO_KERNEL_WORKDIR_MB": str(WORKDIR_MB), "VARRO_DEMO_TPS": "3000", "VARRO_KERNEL_POOL": "1",
           "VARRO_CELL_TIMEOUT_S": "60", "VARRO_WS_FRAMES_PER_S": "1000", "VARRO_WS_FRAME_BURST": "1000",
           **ONE_ADDRESS_CROWD}  # a race sends as fast as refusals come back: past any person's budget
    canary = data / "canary.txt"  # outside every chat's folder, the server's own
    canary.write_bytes(CANARY)
    canary.chmod(0o600)
    try:
        with host_server(data, **env) as srv:
            alice = Console(srv.url, "alice", srv.db_path)
            bob = Console(srv.url, "bob", srv.db_path)
            try:
                assert "ready" in alice.run("print('ready')") and "ready" in bob.run("print('ready')")
                yield World(srv, alice, bob, canary)
            finally:
                alice.close()
                bob.close()
        assert canary.read_bytes() == CANARY and canary.stat().st_uid == 0
    finally:  # 1,100 levels are past what pytest's own clean-up (recursive) removes: gone here, not left in /tmp
        fs.remove_folder(data)
        fs.remove_folder(kernels_dir(data))  # the chats' folders, the kernel host's


def upload(world: World, who: Console, name: str, body: bytes) -> None:
    resp = httpx.post(f"{world.srv.url}/chat/{who.chat_id}/files", params={"name": name}, content=body,
                      headers={"Cookie": who.tab.cookies, "Origin": world.srv.url}, timeout=30, trust_env=False)
    assert resp.status_code == 200, resp.text


def send_with_file(who: Console, text: str, name: str, seconds: float = 30) -> int | None:
    """A message that comes with the file `name` (as the composer sends a chip); its turn's index, or None when the
    server refused it because the name was not a plain file when it looked."""
    k = who.turns

    async def send() -> bool:
        assert who.tab.ws is not None
        await who.tab.ws.send(json.dumps({"action": "send", "msg": text, "files": [name]}))
        deadline = asyncio.get_running_loop().time() + seconds
        while k not in who.tab.statuses:
            if "is no longer in this chat" in await who.tab.recv(deadline - asyncio.get_running_loop().time()):
                return False
        return True

    if not who._call(send(), timeout=seconds + 10):
        return None
    who.turns += 1
    return k


def prompt_of(db: Path, chat_id: int, k: int) -> str:
    """What the model was told as the user's words in turn k (the message and what came with its files)."""
    turn = next(t for t in stored_turns(db, chat_id) if t["idx"] == k)
    parts = [p for m in turn["content"]["assistant"]["messages"] for p in m["parts"]]
    return [str(p["content"]) for p in parts if p["part_kind"] == "user-prompt"][-1]


def swap_race(world: World, kind: str) -> tuple[int, int]:
    """bob attaches a CSV file and sends it again and again while his process swaps it with a link to the canary
    (`kind` "link") or a FIFO ("fifo"); (tries, tries that reached the race). Alice's answers are timed meanwhile."""
    bob = world.bob
    name, other = f"{kind}.csv", f"{kind}-swap"  # names of this race's own
    upload(world, bob, name, b"a,b\n1,2\n")
    make = {"link": f"os.symlink({str(world.canary)!r}, {other!r})", "fifo": f"os.mkfifo({other!r})"}[kind]
    assert "swapping" in bob.run(f"import os\n{make}\n" + SWAPPER % (name, other))
    tries = reached = 0
    while tries < MAX_TRIES and reached < ENOUGH:
        started = time.monotonic()
        k = send_with_file(bob, "what is in this file?", name)
        tries += 1
        if k is None:  # not a plain file when the message was sent: refused before any preview
            continue
        prompt = prompt_of(bob.db, bob.chat_id, k)
        assert CANARY.decode().strip() not in prompt
        # Listed with the message (a plain file when it was looked at) but no first lines: it was not one when
        # the preview opened it.
        reached += f"- {name} (" in prompt and "a,b" not in prompt
        assert time.monotonic() - started < 30
        if tries % 8 == 0:  # while the race runs, another user's answer comes as fast as ever
            timed = time.monotonic()
            assert "4" in world.alice.run("print(2 + 2)", seconds=30)
            assert time.monotonic() - timed < 15
    world.bob.reset_shell()  # the swapper ends with the kernel
    return tries, reached


def test_an_attached_file_swapped_with_a_link_out_never_previews_the_host(world: World) -> None:
    tries, reached = swap_race(world, "link")
    assert reached > 0, f"no try reached the race in {tries}"
    db = world.srv.db_path.read_bytes()
    assert CANARY.strip() not in db
    key = (world.srv.data / ".sesskey").read_bytes().strip()
    assert key not in db


def test_snapshots_as_a_link_to_another_users_are_never_deleted(world: World) -> None:
    alice = world.alice
    top, theirs = world.workdir(alice) / ROOT, world.workdir(alice) / FOLDER  # named by turn id, under .snapshots
    alice.run("a = 1")
    last = theirs / f"turn-{stored_turns(alice.db, alice.chat_id)[-1]['id']}.pkl"
    deadline = time.monotonic() + 30  # saved after the turn, in the background, then the older ones pruned
    while not (last.exists() and len(list(theirs.glob("turn-*.pkl"))) <= KEEP) and time.monotonic() < deadline:
        time.sleep(0.1)
    kept = sorted(p.name for p in theirs.glob("turn-*.pkl"))
    assert kept, "alice's shell saved no snapshot to go after"
    bob = world.bob
    out = bob.run(f"import os, shutil\nshutil.rmtree('.snapshots', ignore_errors=True)\n"
                  f"os.symlink({str(top)!r}, '.snapshots')\nprint('linked')")
    assert "linked" in out
    # An edit of his first turn: the server forgets the snapshots of the turns from there on, in bob's folder.
    edit(bob, 0, "print('edited')")
    bob.run("print('after')")  # and a turn after: its snapshot is saved, older ones pruned
    assert sorted(p.name for p in theirs.glob("turn-*.pkl")) == kept
    assert os.path.islink(world.workdir(bob) / ".snapshots")
    bob.run("import os\nos.remove('.snapshots')")


def edit(who: Console, k: int, text: str) -> None:
    async def send() -> None:
        assert who.tab.ws is not None
        for later in [i for i in who.tab.statuses if i >= k]:  # the edit replaces turn k and drops those after
            del who.tab.statuses[later]
        await who.tab.ws.send(json.dumps({"action": "edit", "turn": str(k), "msg": text}))
        await who.tab.wait_turn(k, 60)

    who._call(send(), timeout=70)
    who.turns = k + 1


def du(folder: Path, *flags: str) -> int:
    """What `du` (fts, from descriptors: no path too long) finds under `folder`."""
    out = subprocess.run(["du", "-s", *flags, str(folder)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def test_the_quota_counts_what_is_below_a_chain_past_path_max(world: World) -> None:
    bob = world.bob
    chain = ("import os\nfd = os.open('.', os.O_RDONLY)\nfor _ in range(300):\n    os.mkdir('d' * 40, dir_fd=fd)\n"
             "    up, fd = fd, os.open('d' * 40, os.O_RDONLY, dir_fd=fd)\n    os.close(up)\n"  # 300 * 41 bytes: 3 PATH_MAX
             "for i in range(12):\n"
             "    w = os.open(f'f{i}.bin', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)\n"
             "    os.write(w, os.urandom(8 * 1024**2)); os.close(w); os.sync()\nprint('wrote it all')")
    out = bob.run(chain, seconds=120)
    assert "DiskQuota" in out, out  # stopped while it wrote, or caught as the cell ended: the files go either way
    assert du(world.workdir(bob), "-b") <= WORKDIR_MB * 2**20


def test_the_quota_counts_empty_folders(world: World) -> None:
    bob = world.bob
    out = bob.run("import os\nfor i in range(60000):\n    os.mkdir(f'e{i}')\nprint('made them all')", seconds=120)
    assert "DiskQuota" in out, out
    assert du(world.workdir(bob), "--inodes") < 20_000


def kernels(server: int) -> int:
    """Kernels of this server (not of others on the machine): children of its kernel host, itself the server's
    child (the launcher execs bwrap)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(proc.name)] = int(proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    hosts = {pid for pid, parent in parents.items() if parent == server and b"varro.kernels" in _cmdline(Path(f"/proc/{pid}"))}
    return sum(parent in hosts and b"kernel_main.py" in _cmdline(Path(f"/proc/{pid}")) for pid, parent in parents.items())


def _cmdline(proc: Path) -> bytes:
    try:
        return proc.joinpath("cmdline").read_bytes()
    except OSError:
        return b""


def settled(count: Any, at_most: int, within: float = 60) -> int:
    """`count()` once it is at most `at_most`, or as it is at the deadline (kernels stop and start in the
    background)."""
    deadline = time.monotonic() + within
    while (n := count()) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return n


def test_a_chain_1100_deep_and_a_reset_leak_no_kernel(world: World) -> None:
    bob = world.bob
    expected = 3  # alice's, bob's and the pool's: no more, however the rounds go
    count = partial(kernels, world.srv.process.pid)
    assert settled(count, expected) <= expected
    for round_ in range(3):
        top = f"deep{round_}"
        out = bob.run(f"import os\nos.mkdir({top!r})\nfd = os.open({top!r}, os.O_RDONLY)\nfor _ in range({DEEP}):\n"
                      "    os.mkdir('d', dir_fd=fd)\n"
                      "    up, fd = fd, os.open('d', os.O_RDONLY, dir_fd=fd)\n    os.close(up)\n"
                      f"os.symlink({str(world.canary)!r}, 'canary', dir_fd=fd)\nprint('deep')")
        assert "deep" in out
        bob.reset_shell()  # the next cell's kernel is the pool's: the chat's folder is handed to its uid
        assert f"round {round_}" in bob.run(f"import os\nprint('round', {round_}, len(os.listdir('.')))", seconds=45)
        assert settled(count, expected) <= expected, f"a kernel leaked in round {round_}"
        assert world.canary.stat().st_uid == 0 and world.canary.read_bytes() == CANARY


def test_a_name_that_is_not_utf8_is_listed_downloaded_and_keeps_its_cell(world: World) -> None:
    bob = world.bob
    out = bob.run("open(b'r\\xe9sum\\xff.txt', 'wb').write(b'the data')\nprint('made it')")
    assert "made it" in out
    statuses = stored_turns(bob.db, bob.chat_id)
    assert statuses[-1]["status"] == "complete", statuses[-1]["status"]
    cookies = {"Cookie": bob.tab.cookies}
    with httpx.Client(base_url=world.srv.url, headers=cookies, timeout=30, trust_env=False) as http:
        view = http.get(f"/chat/{bob.chat_id}/files")
        assert view.status_code == 200
        assert "r\\xe9sum\\xff.txt" in view.text
        href = re.search(r'href="([^"]*sum[^"]*)"', view.text)
        assert href is not None
        got = http.get(href[1].replace("&amp;", "&"))
        assert got.status_code == 200 and got.content == b"the data"


def test_an_attached_file_swapped_with_a_fifo_blocks_no_one(world: World) -> None:
    # Last: without its defence, the server hangs for good.
    tries, reached = swap_race(world, "fifo")
    assert reached > 0, f"no try reached the race in {tries}"

