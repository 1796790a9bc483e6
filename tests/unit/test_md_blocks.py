"""Rendering markdown by blocks while it streams: same HTML as the whole, linear work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ui.md_blocks as md_blocks
from tests.unit.test_markdown_xss import markdownish
from ui.markdown import parse_blocks, render_markdown
from ui.md_blocks import MarkdownBlocks

ROOT = Path(__file__).resolve().parents[2]


# --- MarkdownBlocks ----------------------------------------------------------------------------------


def stream(text: str, deltas: list[str] | None = None) -> tuple[list[list[str]], list[str]]:
    blocks = MarkdownBlocks()
    fed = [blocks.feed(d) for d in (deltas if deltas is not None else list(text))]
    return fed, blocks.finish()


def test_blocks_are_emitted_as_soon_as_they_are_certain() -> None:
    blocks = MarkdownBlocks()
    assert blocks.feed("# Title") == []
    assert blocks.feed("\n") == ["<h1>Title</h1>\n"]  # a heading is finished by its newline
    assert blocks.feed("Para one\nstill one\n") == []
    assert blocks.feed("\n") == ["<p>Para one<br>\nstill one</p>\n"]  # a paragraph by a blank line
    assert blocks.feed("- a\n- b\n\n") == []  # a list may go on after a blank line...
    assert blocks.feed("- c\n\n") == []
    assert blocks.feed("Af") == ["<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n<li>\n<p>c</p>\n</li>\n</ul>\n"]
    assert blocks.tail == "Af"  # ...until a line that is not part of it starts
    assert blocks.feed("ter\n```py\nx = 1\n\ny = 2\n") == []
    assert blocks.tail == "After\n```py\nx = 1\n\ny = 2\n"
    done = blocks.feed("```\n")  # a fence by its closing line (and the paragraph before it with it)
    assert done[0] == "<p>After</p>\n" and done[1].startswith('<pre class="code-block" data-lang="py">')
    assert blocks.tail == ""
    assert blocks.feed("Last words") == []
    assert blocks.finish() == ["<p>Last words</p>\n"]
    assert blocks.finish() == []


def test_setext_heading_and_paragraph_are_not_split() -> None:
    blocks = MarkdownBlocks()
    assert blocks.feed("Title\n") == []
    assert blocks.feed("=====\n") == ["<h1>Title</h1>\n"]


def test_a_heading_with_a_pipe_waits_for_a_possible_table() -> None:
    blocks = MarkdownBlocks()
    assert blocks.feed("# a | b\n") == []
    assert blocks.feed("--|--\n") == []
    assert "".join(blocks.finish()) == render_markdown("# a | b\n--|--\n")


def test_crlf_split_across_deltas_is_one_newline() -> None:
    fed, rest = stream("", ["# A\r", "\nB\r", "\r\nC"])
    assert [h for f in fed for h in f] + rest == ["<h1>A</h1>\n", "<p>B</p>\n", "<p>C</p>\n"]


def test_fence_inside_a_list_item() -> None:
    text = "1. Run:\n\n   ```bash\n   pip install x\n\n   x --help\n   ```\n\n2. Then\n\nDone.\n"
    fed, rest = stream(text)
    out = [h for f in fed for h in f] + rest
    assert "".join(out) == render_markdown(text)
    assert out[-1] == "<p>Done.</p>\n"


# Fragments of real-looking markdown, including the constructs with lookahead (lists, fences, setext
# headings, tables, indented code) and ones that mislead a line-based scanner (indented fences, fences
# closed by a container, list-looking lines inside code).
DOC_PIECES = [
    "# Heading", "## a | b", "Title\n=====", "Sub\n---", "Plain paragraph with *em* and `code`.", "more text",
    "- item", "- item two", "* star item", "+ plus", "1. first", "2) second", "10. tenth", "  - nested",
    "   continuation", "lazy line", "> quote", "> - quoted item", ">", "```python\nx = 1\n\ny = 2\n```",
    "```\nunclosed fence", "~~~\ntilde\n~~~", " ```\n\nindented fence\n ```", "   ```js\n   a()\n   ```",
    "- ```\n  in item\n\nout\n  ```", "````\n```\n````", "``` not `a` fence", "    indented code",
    "\tcode with tab", "***", "---", "* * *", "___", "| a | b |\n|---|:-:|\n| 1 | 2 |", "a | b\n-|-\n1 | 2",
    "| one |\n---", "# a | b\n-|-", "<div id=x>", "[x]: /url", "[x]", "![i](http://a/b.png)", "\\", "---|---",
    "===", "- ", "1.", "-", "#", "``", "- # heading in item", "> ```\n> q\n", "## Done ##",
]  # fmt: skip
SEPARATORS = ["\n", "\n", "\n\n", "\n\n", "\n\n\n", " \n", "\n\t\n", "\n  \n", "\r\n", "\r\n\r\n"]


@st.composite
def documents(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.tuples(st.sampled_from(DOC_PIECES), st.sampled_from(SEPARATORS)), max_size=14))
    text = "".join(p + s for p, s in pieces)
    if draw(st.booleans()):
        text = text.rstrip("\n")
    return text


@st.composite
def split_points(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=len(text) + 1)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def check_stream(text: str, deltas: list[str]) -> None:
    whole = render_markdown(text)
    blocks = MarkdownBlocks()
    emitted: list[str] = []
    fed = ""
    for delta in deltas:
        emitted += blocks.feed(delta)
        fed += delta
        # At every step: what was emitted plus the rendered tail is exactly the prefix rendered whole.
        assert "".join(emitted) + render_markdown(blocks.tail) == render_markdown(fed), (fed, blocks.tail)
    emitted += blocks.finish()
    assert "".join(emitted) == whole
    # One string per top-level block: each block rendered exactly once, none split, none merged.
    top = [t for t in parse_blocks(text) if t.level == 0 and t.map is not None]
    assert len(emitted) == len(top)
    assert all(emitted)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_blocks_concatenate_to_the_whole_render(data: st.DataObject) -> None:
    text = data.draw(documents())
    check_stream(text, data.draw(split_points(text)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_blocks_concatenate_to_the_whole_render_for_noise(data: st.DataObject) -> None:
    text = data.draw(markdownish)
    check_stream(text, data.draw(split_points(text)))


@settings(max_examples=50, deadline=None)
@given(documents())
def test_blocks_one_character_at_a_time(text: str) -> None:
    check_stream(text, list(text))


# --- linear cost -------------------------------------------------------------------------------------


def long_document(repeat: int) -> str:
    unit = (
        "## Section\n\nA paragraph of prose that goes on for a while, with `code` and *emphasis*.\n"
        "Second line of the same paragraph.\n\n"
        "- one\n- two\n\n  still two\n- three\n\n"
        "```python\ndef f(x):\n\n    return x\n# not a heading\n\nprint(f(1))\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "> quoted\n> text\n\n"
    )
    return unit * repeat


def feed_in_deltas(text: str, count: int) -> tuple[float, int, list[str]]:
    """Feed ``text`` in about ``count`` deltas; the time spent in feed(), the longest tail, all blocks."""
    size = max(1, len(text) // count)
    deltas = [text[i : i + size] for i in range(0, len(text), size)]
    blocks = MarkdownBlocks()
    out: list[str] = []
    longest_tail = 0
    start = time.perf_counter()
    for delta in deltas:
        out += blocks.feed(delta)
        longest_tail = max(longest_tail, len(blocks._lines))  # complete lines held open
    elapsed = time.perf_counter() - start
    return elapsed, longest_tail, out + blocks.finish()


def test_twenty_thousand_deltas_emit_blocks_along_the_way() -> None:
    # Speed itself is measured in bench/, not asserted here; the work count below is the linear-cost check.
    text = long_document(250)  # ~70 KB, 1,500 blocks
    _, longest_tail, out = feed_in_deltas(text, 20_000)
    assert "".join(out) == render_markdown(text)
    assert len(out) == 6 * 250  # heading, paragraph, list, fence, table, quote: each its own block
    assert longest_tail <= 10  # blocks were emitted along the way, not all at the end


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x" * 200_000, id="one-long-line"),
        pytest.param("word " * 40_000 + "\n", id="one-long-paragraph"),
        pytest.param("```\n" + "line\n\n# comment\n---\nx\n" * 5_000 + "```\n", id="long-fence"),
        pytest.param(" ```\n" + "line\n\n# comment\n---\nx\n" * 5_000 + " ```\n", id="long-indented-fence"),
        pytest.param("- item\n\n  ***\n" * 8_000, id="long-loose-list"),
        pytest.param("    code\n\n" * 10_000, id="long-indented-code"),
        pytest.param("> q\n" * 20_000, id="long-blockquote"),
        pytest.param("para\n\n" * 10_000, id="many-paragraphs"),
    ],
)
def test_parsing_work_is_linear_in_the_stream(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = 0
    real = md_blocks.parse_blocks

    def counting(source: str) -> list:
        nonlocal parsed
        parsed += len(source)
        return real(source)

    monkeypatch.setattr(md_blocks, "parse_blocks", counting)
    _, _, out = feed_in_deltas(text, 20_000)
    # Each ask parses only the open text, and a failed ask waits for it to double: linear overall.
    assert parsed <= 5 * len(text) + 1000, (parsed, len(text))
    assert "".join(out) == render_markdown(text)


