"""The socket drops at a random frame of a turn (a code cell's streamed call, its run, or the answer after it):
after the tab reconnects every stored turn is complete, stopped or error, and no tool call lacks its result.

Three ways to come back: at once (the run carried on and the tab catches up), a while later (the run went on
without a tab, and may have ended: it is stored complete), or at once and pressing Stop.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart
from websockets.exceptions import ConnectionClosed

from tests.security.client import Tab, check_stored, unanswered_tool_calls
from tests.security.conftest import host_server, size
from varro.chat.cells import cells_of
from varro.chat.history import closed

TRIALS = size(6, 60)
LATER_S = 1.5
CELL = "Run this:\n```python\nimport time\nfor i in range(3):\n    print('step', i)\n    time.sleep(0.1)\n```"
TURNS_PER_CHAT = 6  # a fresh chat now and then, so the shell's replay of earlier cells stays short


PROMPT = ModelRequest(parts=[UserPromptPart("run two cells")])
CALLS = ModelResponse(parts=[ToolCallPart("run_python", {"code": "a = 1"}, tool_call_id="c1"),
                             ToolCallPart("run_python", {"code": "while True: pass"}, tool_call_id="c2")])


def test_a_turn_stopped_while_its_tools_ran_gets_interrupted_results() -> None:
    """Found by the drop trials: a stop during a tool left `[prompt, calls, request([])]` stored, so every later
    turn sent a call without a result (providers refuse that)."""
    done = ToolReturnPart("run_python", "ok", tool_call_id="c1")
    for tail in ([], [done]):
        out = closed([PROMPT, CALLS, ModelRequest(parts=list(tail), state="interrupted")])
        assert len(out) == 3
        results = {p.tool_call_id: p for p in out[-1].parts}
        assert results.keys() == {"c1", "c2"} and results["c2"].outcome == "interrupted"
        assert [c.code for c in cells_of(0, out)] == (["a = 1"] if tail else []), "interrupted cells are not replayed"


def test_a_failed_run_loses_the_response_whose_calls_never_ran() -> None:
    assert closed([PROMPT, CALLS]) == [PROMPT]
    finished = [PROMPT, ModelResponse(parts=[TextPart("hi")])]
    assert closed(finished) == finished


async def drop_and_return(tab: Tab, k: int, rng: random.Random, how: str) -> str:
    """Turn k: send, drop the socket after a random number of frames, come back `how`; its final status."""
    await tab.open(known=k)
    await tab.send(CELL if rng.random() < 0.7 else "Tell me about lists")
    drop_at = rng.randint(1, 40)
    try:
        for _ in range(drop_at):
            await tab.recv(30)
            if k in tab.statuses:
                break
    except ConnectionClosed:
        pass
    if rng.random() < 0.5:
        tab.ws.transport.abort()  # the network went away: no close frame
        tab.ws = None
    else:
        await tab.close()
    tab.statuses.pop(k, None)
    if how == "later":
        await asyncio.sleep(LATER_S)
    await tab.open(known=k)
    if how == "stop":
        await tab.stop()
    status = await tab.wait_turn(k, 60)
    await tab.close()
    return status


async def trials(url: str) -> dict[str, int]:
    rng = random.Random(8)
    tab, counts = Tab(url, "dropper"), {}
    for trial in range(TRIALS):
        k = trial % TURNS_PER_CHAT
        if k == 0:
            await tab.sign_in()
        how = rng.choice(["at-once", "later", "stop"])
        status = await drop_and_return(tab, k, rng, how)
        counts[f"{how}:{status}"] = counts.get(f"{how}:{status}", 0) + 1
    return counts


def test_a_dropped_socket_leaves_every_turn_final(tmp_path: Path) -> None:
    with host_server(tmp_path, VARRO_DEMO_TPS="300") as srv:
        counts = asyncio.run(trials(srv.url))
        by_chat = check_stored(srv.db_path)
    assert sum(len(turns) for turns in by_chat.values()) == TRIALS
    for turns in by_chat.values():
        for turn in turns:
            assert turn["status"] in ("complete", "stopped", "error") and not unanswered_tool_calls(turn)
    assert "Traceback" not in srv.output()
    print(f"\nsocket drops: {TRIALS} trials, outcomes {dict(sorted(counts.items()))}")
