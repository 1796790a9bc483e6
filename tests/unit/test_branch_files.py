"""Which files a switch of versions puts back and takes away: the pure rule over two paths of a chat's turn tree
(varro/chat/branch_files.py); tests/unit/test_snapshots.py runs it against a real kernel host."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart, UserPromptPart

from varro.chat.branch_files import files_of_path, plan
from varro.chat.content import Attachment, build_content
from varro.db.models import Turn
from varro.files import ChatFile

TS = datetime(2026, 1, 1, tzinfo=UTC)


def turn(turn_id: int, idx: int, writes: dict[str, str | None], uploads: tuple[str, ...] = ()) -> Turn:
    """A turn whose one cell wrote `writes` (name -> its kept copy, None past the copy cap)."""
    messages = [ModelRequest(parts=[UserPromptPart("go", timestamp=TS)]),
                ModelResponse(parts=[ToolCallPart("run_python", {"code": "..."}, tool_call_id="c")]),
                ModelRequest(parts=[ToolReturnPart("run_python", "ok", tool_call_id="c",
                                                   metadata={"files": list(writes)})])]
    copies = [Attachment(path=copy, media_type="text/plain", name=name, size=1)
              for name, copy in writes.items() if copy is not None]
    files = [ChatFile(name, 1, "text/plain") for name in uploads]
    content = build_content("go", TS, messages, {"c": copies} if copies else {}, {}, files)
    return Turn(id=turn_id, chat_id=1, idx=idx, user_text="go", content=content)


def test_an_edit_takes_back_what_the_edited_turns_wrote_and_puts_back_the_earlier_copy() -> None:
    t0 = turn(1, 0, {"a.csv": "u/c/a0"})
    old = [t0, turn(2, 1, {"a.csv": "u/c/a1", "b.png": "u/c/b1"})]
    new = [t0, turn(3, 1, {"c.txt": "u/c/c3"})]
    change = plan(old, new)
    assert change.put == {"a.csv": "u/c/a0", "c.txt": "u/c/c3"}
    assert change.remove == ("b.png",)
    back = plan(new, old)
    assert back.put == {"a.csv": "u/c/a1", "b.png": "u/c/b1"} and back.remove == ("c.txt",)


def test_what_has_no_copy_is_never_taken_away_nor_an_upload_touched() -> None:
    t0 = turn(1, 0, {}, uploads=("data.csv",))
    old = [t0, turn(2, 1, {"big.bin": None, "data.csv": "u/c/d1"})]
    new = [t0, turn(3, 1, {})]
    change = plan(old, new)
    assert change.remove == () and change.put == {}, "big.bin has no copy; data.csv's upload has none either"


def test_the_same_path_changes_nothing() -> None:
    path = [turn(1, 0, {"a": "u/c/a"}), turn(2, 1, {"b": "u/c/b"})]
    assert not plan(path, path)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["x", "y", "z", None]), max_size=3),
                min_size=2, max_size=6), st.integers(0, 5), st.data())
def test_after_a_switch_the_folder_is_what_the_shown_path_left(writes: list[dict[str, str | None]], fork: int,
                                                                 data: st.DataObject) -> None:
    """Simulated on a folder: start from what the old path left, carry out the plan, and every name the new path
    kept a copy of holds that copy; a name only the other branch wrote is gone if it had a copy."""
    fork = min(fork, len(writes) - 1)
    old = [turn(i + 1, i, {n: c and f"u/c/{c}" for n, c in w.items()}) for i, w in enumerate(writes)]
    tail = data.draw(st.lists(st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["v", "w", None]),
                                              max_size=3), max_size=4))
    new = old[:fork] + [turn(100 + i, fork + i, {n: c and f"u/c/{c}" for n, c in w.items()})
                        for i, w in enumerate(tail)]
    folder = {n: c for n, c in files_of_path(old).items()}
    change = plan(old, new)
    for name in change.remove:
        del folder[name]
    folder.update(change.put)
    for name, copy in files_of_path(new).items():
        if copy is not None:
            assert folder[name] == copy
    for name in set(files_of_path(old)) - set(files_of_path(new)):
        assert (name in folder) == (files_of_path(old)[name] is None)
