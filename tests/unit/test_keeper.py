"""The kernel keeper's rules: how long an ended session's kernel is kept, which goes first past the caps, and
that nothing outlives the server."""

from __future__ import annotations

import asyncio

from varro.shell.keeper import KernelKeeper


class FakeKernel:
    """What the keeper asks of a kernel: its status, and to shut down."""

    def __init__(self, status: str = "idle") -> None:
        self.status = status
        self.shut = False

    async def shutdown(self) -> None:
        self.shut = True
        self.status = "not started"


async def park(keeper: KernelKeeper, key: tuple[int, int], status: str = "idle") -> FakeKernel:
    kernel = FakeKernel(status)
    await keeper.park(key, kernel)  # type: ignore[arg-type]
    return kernel


async def test_a_kept_kernel_comes_back_as_it_was() -> None:
    keeper = KernelKeeper(idle_s=60)
    kernel = await park(keeper, (1, 10))
    assert keeper.claim((1, 10)) is kernel and not kernel.shut
    assert keeper.claim((1, 10)) is None and len(keeper) == 0


async def test_an_idle_kernel_is_let_go_after_the_grace() -> None:
    keeper = KernelKeeper(idle_s=0.05)
    kernel = await park(keeper, (1, 10))
    await asyncio.sleep(0.15)
    assert kernel.shut and keeper.claim((1, 10)) is None


async def test_claiming_stops_the_countdown() -> None:
    keeper = KernelKeeper(idle_s=0.05)
    kernel = await park(keeper, (1, 10))
    assert keeper.claim((1, 10)) is kernel
    await asyncio.sleep(0.15)
    assert not kernel.shut


async def test_nothing_is_kept_with_no_grace_or_a_busy_kernel() -> None:
    assert (await park(KernelKeeper(idle_s=0), (1, 10))).shut
    assert (await park(KernelKeeper(idle_s=60), (1, 11), status="dead")).shut
    assert (await park(KernelKeeper(idle_s=60, per_user=1), (1, 12))).shut  # one kernel a user: the live one


async def test_per_user_cap_lets_the_least_recently_parked_go() -> None:
    keeper = KernelKeeper(idle_s=60, per_user=3)
    first, second = await park(keeper, (1, 10)), await park(keeper, (1, 11))
    other_user = await park(keeper, (2, 20))
    third = await park(keeper, (1, 12))
    # Three a user, one of them live: two kept. The oldest of user 1 goes; user 2 is untouched.
    assert first.shut and not second.shut and not third.shut and not other_user.shut
    assert (1, 10) not in keeper and (1, 11) in keeper and (1, 12) in keeper


async def test_per_server_cap() -> None:
    keeper = KernelKeeper(idle_s=60, per_server=2)
    kernels = [await park(keeper, (user, 1)) for user in range(3)]
    assert [k.shut for k in kernels] == [True, False, False] and len(keeper) == 2


async def test_a_kernel_that_died_while_kept_is_not_handed_back() -> None:
    keeper = KernelKeeper(idle_s=60)
    kernel = await park(keeper, (1, 10))
    kernel.status = "dead"
    assert keeper.claim((1, 10)) is None
    await asyncio.sleep(0)
    assert kernel.shut


async def test_server_shutdown_ends_every_kept_kernel() -> None:
    keeper = KernelKeeper(idle_s=60)
    kernels = [await park(keeper, (user, 1)) for user in range(3)]
    await keeper.close_all()
    assert all(k.shut for k in kernels) and len(keeper) == 0
