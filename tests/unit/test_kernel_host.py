"""The kernel host's own behaviour, through its APIs: one kernel per chat, caps, culling, the pool, the quota, the token,
and the files API."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kernels import TestHost, new_space
from tests.waits import until
from varro.files import UploadRefused
from varro.shell.host import HostClient
from varro.shell.remote import RemoteKernel

PER_USER, PER_HOST = 2, 3


@pytest.fixture(scope="module")
def khost() -> Iterator[TestHost]:
    host = TestHost(VARRO_MAX_KERNELS_PER_USER=str(PER_USER), VARRO_MAX_KERNELS=str(PER_HOST),
                    VARRO_KERNEL_WORKDIR_MB="5", VARRO_KERNEL_POOL="1")
    yield host
    host.stop()


@pytest.fixture
async def client(khost: TestHost) -> AsyncIterator[HostClient]:
    client = khost.client()
    yield client
    await shut_all(khost)
    await client.close()


async def shut_all(khost: TestHost) -> None:
    async with httpx.AsyncClient(base_url=khost.url, headers={"Authorization": f"token {khost.token}"}) as http:
        for kernel in (await http.get("/api/kernels")).json():
            await http.delete(f"/api/kernels/{kernel['id']}")


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_concurrent_starts_of_one_chat_share_one_kernel(client: HostClient) -> None:
    """Several tool calls of one reply while the chat's shell is still starting: one shell, started once."""
    ids = await asyncio.gather(*(client.start_kernel(1, 1) for _ in range(4)))
    assert len(set(ids)) == 1
    shells = [RemoteKernel(client, 1, 1) for _ in range(3)]
    results = await asyncio.gather(*(s.execute("n = globals().get('n', 0) + 1\nn") for s in shells))
    assert sorted(r.result for r in results) == ["1", "2", "3"]  # one namespace, each call counted once
    assert {s.kernel_id for s in shells} == set(ids)
    for s in shells:
        await s.detach()


async def test_calls_on_one_shell_run_in_order(client: HostClient) -> None:
    shell = RemoteKernel(client, 1, 2)
    results = await asyncio.gather(*(shell.execute(f"import time; time.sleep(0.0{5 - i})\nn = globals().get('n', 0) "
                                                   f"+ 1\nprint({i}, n)") for i in range(5)))
    assert [r.stdout for r in results] == [f"{i} {i + 1}\n" for i in range(5)]
    await shell.shutdown()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(starts=st.lists(st.tuples(st.integers(1, 2), st.integers(1, 3)), min_size=1, max_size=6))
def test_caps_hold_under_any_interleaving_of_starts(khost: TestHost, starts: list[tuple[int, int]]) -> None:
    asyncio.run(_caps_hold(khost, starts))


async def _caps_hold(khost: TestHost, starts: list[tuple[int, int]]) -> None:
    client = khost.client(new_space())
    try:
        await asyncio.gather(*(client.start_kernel(u, c) for u, c in starts))
        running = {(u, c) for u in (1, 2) for c in (1, 2, 3) if await client.kernel_of(u, c) is not None}
        per_user = Counter(u for u, _ in running)
        assert all(n <= PER_USER for n in per_user.values()), per_user
        assert len(running) <= PER_HOST
        assert running, "the last start of each interleaving keeps its kernel"
        async with httpx.AsyncClient(base_url=khost.url, headers={"Authorization": f"token {khost.token}"}) as http:
            listed = (await http.get("/api/kernels")).json()
        # Nothing uncounted: every kernel the host lists in this space is one of the chats found running.
        ours = sorted(k["chat"] for k in listed if k["chat"].startswith(f"{client.space}/"))
        assert ours == sorted(f"{client.space}/{u}/{c}" for u, c in running), listed
    finally:
        await shut_all(khost)
        await client.close()


async def test_past_a_cap_the_least_recently_active_goes(client: HostClient) -> None:
    first, second = RemoteKernel(client, 1, 1), RemoteKernel(client, 1, 2)
    await first.execute("a = 1")
    await second.execute("b = 2")
    await first.execute("a += 1")  # now the more recently active
    third = RemoteKernel(client, 1, 3)
    assert (await third.execute("3")).result == "3"
    assert await client.kernel_of(1, 2) is None
    assert (await first.execute("a")).result == "2" and await client.kernel_of(1, 1) is not None
    other = RemoteKernel(client, 2, 1)  # another user's kernel takes nothing of user 1's (the host's cap is 3)
    await other.execute("1")
    assert await client.kernel_of(1, 1) is not None and await client.kernel_of(1, 3) is not None
    for shell in (first, second, third, other):
        await shell.detach()


async def test_a_pooled_kernel_takes_a_new_chat_with_its_files(khost: TestHost, client: HostClient) -> None:
    pool = khost.folder / "kernels" / "pool"
    await until(lambda: any(d.is_dir() for d in pool.glob("*/*")), "a kernel started ahead", within_s=60)
    waiting = {d.name for d in pool.glob("*/*")}
    await client.put_file(1, 7, "sales.csv", chunks(b"a,b\n1,2\n"), 2**20)
    shell = RemoteKernel(client, 1, 7)
    result = await shell.execute("import os\nprint(sorted(os.listdir('.')), open('sales.csv').read())\n"
                                 "open('out.txt', 'w').write('made here')")
    assert "['sales.csv'] a,b" in result.stdout and result.files == ["out.txt"]
    assert {d.name for d in pool.glob("*/*")}.isdisjoint(waiting)  # the waiting kernel went to the chat
    assert (khost.chat_folder(client.space, 1, 7) / "out.txt").read_text() == "made here"
    await until(lambda: any(d.is_dir() for d in pool.glob("*/*")), "the pool to refill", within_s=60)
    await shell.shutdown()


async def test_a_cell_past_the_quota_is_stopped_and_its_files_removed(client: HostClient) -> None:
    shell = RemoteKernel(client, 1, 8)
    await shell.execute("open('kept.txt', 'w').write('before')")
    result = await shell.execute("f = open('big.bin', 'wb')\nfor i in range(40):\n    f.write(b'x' * 2**20)\n"
                                 "    f.flush()\n    import time; time.sleep(0.02)")
    assert result.error is not None and result.error.startswith("DiskQuota"), result.error
    assert "big.bin" in result.error and result.kernel_restarted
    assert [f.name for f in await client.files(1, 8)] == ["kept.txt"]
    assert (await shell.execute("open('kept.txt').read()")).result == "'before'"
    await shell.shutdown()


async def test_every_request_needs_the_token(khost: TestHost) -> None:
    space = new_space()
    async with httpx.AsyncClient(base_url=khost.url) as http:
        for method, path in [("GET", "/api/kernels"), ("POST", "/api/kernels"), ("GET", "/varro/health"),
                             ("GET", f"/varro/chats/{space}/1/1/files"), ("PUT", f"/varro/chats/{space}/1/1/files/x"),
                             ("GET", f"/varro/chats/{space}/1/1/files/x"), ("DELETE", f"/varro/chats/{space}/1/1")]:
            # A connection each: the host refuses a PUT before reading its body and closes that connection, which
            # a next request on it could meet as a read error rather than an answer.
            for headers in ({"Connection": "close"}, {"Authorization": "token wrong", "Connection": "close"}):
                response = await http.request(method, path, headers=headers, content=b"data" if method == "PUT"
                                              else None)
                assert response.status_code in (401, 403), (method, path, headers, response.status_code)
    assert not khost.chat_folder(space, 1, 1).exists()


async def test_files_api(client: HostClient) -> None:
    stored = await client.put_file(1, 9, "notes.txt", chunks(b"hello"), 2**20)
    again = await client.put_file(1, 9, "notes.txt", chunks(b"second"), 2**20)
    assert stored.name == "notes.txt" and stored.size == 5 and again.name != "notes.txt"  # renamed, not replaced
    assert sorted(f.name for f in await client.files(1, 9)) == sorted(["notes.txt", again.name])
    found = await client.read_file(1, 9, "notes.txt")
    assert found is not None and found[0] == 5 and b"".join([c async for c in found[1]]) == b"hello"
    assert await client.remove_file(1, 9, "notes.txt")
    assert await client.read_file(1, 9, "notes.txt") is None and not await client.remove_file(1, 9, "notes.txt")
    for refused in ("../escape.txt", ".hidden"):
        with pytest.raises(UploadRefused):
            await client.put_file(1, 9, refused, chunks(b"x"), 2**20)
    with pytest.raises(UploadRefused):
        await client.put_file(1, 9, "big.txt", chunks(b"x" * 2000), 1000)
    # A name that is not UTF-8, made by a cell: listed, read and deleted like any other.
    shell = RemoteKernel(client, 1, 9)
    assert (await shell.execute("open(b'caf\\xe9.txt', 'wb').write(b'bytes')")).error is None
    # Shown as text (the byte escaped), fetched and deleted by the raw name the listing carries.
    raw, shown = next((r, f) for r, f in await client.named_files(1, 9) if f.name.startswith("caf"))
    assert shown.name == "caf\\xe9.txt" and raw.encode("utf-8", "surrogateescape") == b"caf\xe9.txt"
    found = await client.read_file(1, 9, raw)
    assert found is not None and b"".join([c async for c in found[1]]) == b"bytes"
    assert await client.remove_file(1, 9, raw)
    assert not any(f.name.startswith("caf") for f in await client.files(1, 9))
    await shell.shutdown()


async def test_an_idle_kernel_nobody_is_connected_to_is_culled() -> None:
    own = TestHost(VARRO_KERNEL_IDLE_S="2", VARRO_KERNEL_POOL="0")
    client = own.client()
    try:
        shell = RemoteKernel(client, 1, 1)
        await shell.execute("x = 1")
        await shell.detach()  # its tab went
        kernel_id = shell.kernel_id
        assert kernel_id is not None and await client.kernel_of(1, 1) == kernel_id
        deadline = asyncio.get_running_loop().time() + 30
        while await client.kernel_of(1, 1) is not None:
            assert asyncio.get_running_loop().time() < deadline, "still running 30 s after VARRO_KERNEL_IDLE_S=2"
            await asyncio.sleep(0.2)
        assert await client.kernel_state(kernel_id) is None
    finally:
        await client.close()
        own.stop()
