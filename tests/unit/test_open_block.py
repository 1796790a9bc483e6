"""The open block rendered by pieces (ui/open_block.py) shows, after every flush, what rendering it whole shows.

Frames are applied to a small DOM as htmx applies them (tests/unit/test_live_parts.py); after each one the
open tail on that page must equal ``provisional_html`` of the whole open text, once the open piece's own
marks (the ``open-…`` id, the ``<span>`` round a last line) are taken away.
"""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.live_parts import LiveParts
from tests.unit.test_live_parts import apply, canonical, page_for, renderer
from tests.unit.test_markdown_xss import FRAGMENTS, markdownish
from ui import markdown
from ui.provisional import provisional_html
from varro.chat.events import Event, NodeStarted, PartDelta, PartStarted

OPEN = "open-0-0-0"  # the open piece's element


def without_marks(html: str) -> str:
    """``html`` without the open piece's marks, nor the caret (text appended into it shows as if rendered)."""
    tail = BeautifulSoup(html, "html.parser")
    if (el := tail.find(id=OPEN)) is not None:
        if el.name == "span":
            el.unwrap()
        else:
            del el["id"]
    if (caret := tail.find(id="caret-0-0-0")) is not None:
        caret.unwrap()
    return canonical(canonical(str(tail)))


def events_for(text: str, cuts: list[int]) -> list[Event]:
    events: list[Event] = [NodeStarted(0, 0), PartStarted(0, 0, 0, "text", text[: cuts[0]])]
    i = cuts[0]
    for step in cuts[1:] * (len(text) // max(1, sum(cuts)) + 2):
        if text[i : i + step]:
            events.append(PartDelta(0, 0, 0, text[i : i + step]))
        i += step
    return events


def check_every_flush(text: str, cuts: list[int]) -> int:
    """Stream ``text`` in deltas of the ``cuts`` sizes; return how many frames of its second half rendered the tail whole."""
    r, page, whole_renders = renderer(), page_for(0), 0
    live: LiveParts = r.live
    events = events_for(text, cuts)
    for i, event in enumerate(events):
        frame = r.frame([event])
        whole_renders += 'id="part-0-0-0"' in frame and i > len(events) // 2
        apply(page, frame)
        part = live._parts.get((0, 0, 0))
        if part is None or 'id="caret-0-0-0"' in frame:
            continue  # the node, before its part; characters appended at the caret (tests/unit/test_provisional.py)
        assert part.md is not None
        tail = page.find(id="part-0-0-0")
        assert isinstance(tail, Tag)
        whole, _ = provisional_html(part.md.tail, "caret-0-0-0")
        assert without_marks(tail.decode_contents()) == without_marks(whole), part.md.tail
    return whole_renders


def table(rows: list[str]) -> str:
    return "| a | b | c |\n|:--|:-:|--:|\n" + "".join(f"| {r} | x{i} |\n" for i, r in enumerate(rows))


def wide_table(rows: list[list[str]]) -> str:
    """Four aligned columns; rows of one to six cells (too few, too many), some with a closing pipe, some without."""
    return "| a | b | c | d |\n|:--|:-:|--:|---|\n" + "".join(
        "| " + " | ".join(r) + (" |" if len(r) % 2 else "") + "\n" for r in rows)


def listing(items: list[str], marker: str) -> str:
    return "".join(f"{marker if marker in '-+*' else f'{i + 1}{marker}'} {it}\n" for i, it in enumerate(items))


def loose_listing(items: list[tuple[str, str, bool]], marker: str) -> str:
    """Items that may hold a second paragraph (or an indented fence, whose blank line loosens nothing), and may
    end in a blank line: a list that turns loose somewhere along the way, or never."""
    out = []
    for i, (first, more, blank_after) in enumerate(items):
        start = marker if marker in "-+*" else f"{i + 3}{marker}"
        pad = " " * (len(start) + 1)
        out.append(f"{start} {first}\n" + (more.replace("\n", "\n" + pad) if more else "") + ("\n" if blank_after else ""))
    return "".join(out)


cell = st.lists(st.sampled_from([*FRAGMENTS, "word", "**b**", "`c`", "*i", "|", "\\|", "$x$", "[l](https://x)"]),
                max_size=4).map("".join).map(lambda s: s.replace("\n", " "))
line = st.lists(st.sampled_from([*FRAGMENTS, "word", "more words", "**b**", "`c`", "a_b", "1. x"]),
                max_size=5).map("".join).map(lambda s: s.replace("\n", " "))
# Inline syntax that may open on one line of a paragraph and close on a later one.
spanning = st.lists(st.sampled_from(["word ", "w", " ", "*", "**", "_", "`", "[", "](https://x)", "$", "~~", "2*3"]),
                    max_size=8).map("".join)
blocks = st.one_of(
    st.lists(spanning, min_size=2, max_size=8).map(lambda ls: "Words " + "\nwords ".join(ls) + "\n"),
    st.lists(cell, min_size=1, max_size=8).map(table),
    st.lists(st.lists(cell, min_size=1, max_size=6), min_size=1, max_size=6).map(wide_table),
    st.builds(listing, st.lists(line, min_size=1, max_size=8), st.sampled_from(["-", "*", ".", ")"])),
    st.builds(loose_listing, st.lists(st.tuples(line, st.sampled_from(
        ["", "", "\nmore words\n", "\n```\ncode\n\nmore\n```\n", "- nested\n\n- nested\n", "\n> quoted\n"]), st.booleans()),
        min_size=1, max_size=6), st.sampled_from(["-", "+", ".", ")"])),
    st.lists(line, min_size=1, max_size=8).map(lambda ls: "```py\n" + "\n".join(ls) + "\n```\n"),
    st.lists(line, min_size=1, max_size=8).map(lambda ls: "Words\n" + "\n".join(ls) + "\n"),
    st.lists(line, min_size=1, max_size=4).map(lambda ls: "> " + "\n> ".join(ls) + "\n"),
    # a quote of paragraphs, between them one blank quoted line or more (">", "> ", ">>" nests a quote)
    st.lists(st.tuples(st.lists(line, min_size=1, max_size=3), st.sampled_from([">\n", "> \n", ">\n>\n", ">>\n"])),
             min_size=1, max_size=4).map(lambda ps: "".join("> " + "\n> ".join(ls) + "\n" + gap for ls, gap in ps)),
    markdownish,
)
cut_sizes = st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blocks, min_size=1, max_size=3).map("\n".join), cut_sizes)
@example("- \n\n\n- \n", [1, 4])  # an empty item and a blank line end the list: the next item starts another
def test_the_open_block_by_pieces_shows_what_the_whole_block_shows(text: str, cuts: list[int]) -> None:
    check_every_flush(text, cuts)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, blocks, cut_sizes)
def test_blocks_that_follow_each_other_closely(first: str, second: str, cuts: list[int]) -> None:
    check_every_flush(first + second, cuts)


def test_each_kind_of_block_grows_by_its_open_piece() -> None:
    # Markup in every line, so that most deltas can't just be appended at the caret.
    for text in [table([f"row {i} **b**" for i in range(40)]), listing([f"item {i} `c`" for i in range(40)], "-"),
                 listing([f"step *{i}*" for i in range(40)], "."), "```py\n" + "x = `1`\n" * 40,
                 "".join(f"- item {i} `c`\n\n" for i in range(40)), "".join(f"{i + 1}. *a*\n\n{' ' * len(f'{i + 1}. ')}b\n" for i in range(40)),
                 "Lines\n" + "a line & words\n" * 40]:
        assert check_every_flush(text, [3, 4, 5]) == 0, f"rendered whole over and over: {text[:20]}"


# Each kind of block: what opens it, and its i-th row, item or line (markup in each, so deltas can't go in as text).
LONG_BLOCKS = {
    "table": ("| a | b |\n|---|:-:|\n", lambda i: f"| some words {i} | **more** `words` |\n"),
    "list": ("", lambda i: f"- item {i} with *emphasis* and `code`\n"),
    "numbered": ("", lambda i: f"{i + 1}. step {i}: do **this**\n"),
    "loose list": ("- a first item\n\n", lambda i: f"- item {i} with *emphasis*\n\n  and a second `paragraph`\n\n"),
    "steps with details": ("", lambda i: f"{i + 1}. **Step {i}**\n    - a detail with `code`\n    - another one\n\n"),
    "code": ("```py\n", lambda i: f"x_{i} = f(`{i}`)  # *not* emphasis\n"),
    "paragraph": ("Lines\n", lambda i: f"line {i} of a paragraph & **bold**\n"),
    "quote": ("", lambda i: f"> quoted line {i} with *emphasis*\n"),
    "quote of paragraphs": ("", lambda i: f"> paragraph {i} with *emphasis*\n> and a second line\n>\n"),
    "maths": ("$$\n" + "".join(f"a_{{{i}}} + b_{{{i}}} = c_{{{i}}} \\\\\n" for i in range(100)),
              lambda i: f"x_{{{i}}} < y^2 \\\\\n"),
}


@pytest.mark.parametrize("kind", sorted(LONG_BLOCKS))
def test_a_token_renders_as_much_at_the_end_of_a_long_block_as_at_its_start(kind: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not timed: the characters markdown-it renders for each one streamed, over 50 rows at the start and
    50 rows after 600 more (a numbered list's rows grow with their numbers)."""
    rendered = [0]
    render = markdown._MD.render

    def counted(text: str, env: Any = None) -> str:
        rendered[0] += len(text)
        return render(text, env)

    monkeypatch.setattr(markdown._MD, "render", counted)
    opener, row = LONG_BLOCKS[kind]
    parts = LiveParts()
    parts.started(PartStarted(0, 0, 0, "text", opener))
    at = [0]

    def rows(n: int) -> float:
        """Characters rendered per character streamed, over `n` rows."""
        before, streamed = rendered[0], 0
        for _ in range(n):
            text = row(at[0])
            at[0] += 1
            streamed += len(text)
            for i in range(0, len(text), 4):
                parts.delta(PartDelta(0, 0, 0, text[i : i + 4]))
        return (rendered[0] - before) / streamed

    rows(5)  # the block is recognised and on its way
    first = rows(50)
    rows(600)
    last = rows(50)
    assert last <= 1.3 * first, f"{kind}: {first:.1f} characters rendered a character streamed at the start, {last:.1f} after 600 rows"


# Display maths past what is typeset (ui/maths.py MAX_TEX): shown as its source, it grows by its lines.
LONG_FORMULA = "$$\n" + "".join(f"a_{{{i}}} + b_{{{i}}} = c_{{{i}}} \\\\\n" for i in range(100))
maths_line = st.lists(st.sampled_from([*FRAGMENTS, "a_{1}", "\\frac{a}{b}", " + ", "<", "&amp", "\\\\", "x^2", "$", ""]),
                      max_size=5).map("".join).map(lambda s: s.replace("\n", " "))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(maths_line, min_size=1, max_size=8), st.booleans(), cut_sizes)
def test_long_display_maths_shows_its_source_as_the_whole_block_does(lines: list[str], closed: bool,
                                                                     cuts: list[int]) -> None:
    text = LONG_FORMULA + "\n".join(lines) + ("\n$$\nAfter it.\n" if closed else "")
    check_every_flush(text, [len(LONG_FORMULA), *cuts])  # it starts long: typesetting it each flush would be slow


def test_long_display_maths_grows_by_its_lines() -> None:
    more = "".join(f"x_{{{i}}} < y & z \\\\\n" for i in range(40))
    assert check_every_flush(LONG_FORMULA + more, [len(LONG_FORMULA), 3, 4, 5]) == 0, "rendered whole over and over"


def test_a_quote_grows_by_its_lines_and_then_by_its_paragraphs() -> None:
    quote = "> " + "\n> ".join(f"quoted line {i} with *emphasis* & `code`" for i in range(40)) + "\n"
    assert check_every_flush(quote, [3, 4, 5]) == 0, "rendered whole over and over"
    more = "".join(f">\n> paragraph {i} with **bold**\n> and `code`\n" for i in range(30))
    # Once: when the second paragraph begins, the quote is rendered again by its paragraphs.
    assert check_every_flush(quote + more, [3, 4, 5]) <= 1, "a quote of paragraphs rendered whole over and over"
    listed = quote + ">\n> - an item\n> - and another\n"
    check_every_flush(listed, [3, 4, 5])  # a list inside the quote: whole again, still what the page shows
