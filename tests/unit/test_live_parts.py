"""Markdown rendered by blocks while it streams: each block sent once, a small final swap, the reload's DOM at the end.

The frames are applied to a small DOM (BeautifulSoup) the way htmx applies out-of-band swaps, so the
page's end state can be compared with what a reload renders.
"""

from __future__ import annotations

import random
import re

from bs4 import BeautifulSoup, Tag
from fasthtml.common import to_xml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_ai.messages import ModelResponse, TextPart, ThinkingPart, ToolCallPart

from app.render import Renderer
from tests.unit.test_markdown_xss import markdownish
from ui.markdown import render_markdown
from ui.md_blocks import MarkdownBlocks, render_blocks
from ui.nodes import CHUNK_BLOCKS, ResponseBlock
from varro.agent.demo import stream_chunks
from varro.chat.events import Event, NodeStarted, PartDelta, PartStarted, ResponseFinished, TurnStarted


def renderer() -> Renderer:
    return Renderer(lambda path: f"/chat/uploads/{path}", lambda title: None)


def apply(page: BeautifulSoup, frame: str) -> None:
    """htmx's ws extension: every top-level element is an OOB swap onto the element with its id."""
    # Whitespace kept as a browser keeps it (BeautifulSoup would fold the lines of code a <span> carries into one).
    parsed = BeautifulSoup(frame, "html.parser", preserve_whitespace_tags={"pre", "textarea", "span"})
    for el in [c for c in parsed.contents if isinstance(c, Tag)]:
        style = str(el.attrs.pop("hx-swap-oob"))
        target = page.find(id=el["id"])
        assert target is not None, f"no #{el['id']} for {style}"
        if style in ("true", "outerHTML"):
            target.replace_with(el)
        elif style == "delete":
            target.decompose()
        elif style == "innerHTML":
            target.clear()
            target.extend(list(el.contents))
        elif style == "beforeend":
            target.extend(list(el.contents))
        elif style == "beforebegin":
            for child in list(el.contents):
                target.insert_before(child)
        else:
            raise AssertionError(style)


def page_for(k: int) -> BeautifulSoup:
    return BeautifulSoup(f'<div id="chat-turns"><div id="assistant-{k}"></div></div>', "html.parser")


def canonical(html: str) -> str:
    return BeautifulSoup(html, "html.parser").decode(formatter="html5")


def stream_events(text: str, thinking: str, seed: int, batch: int = 4) -> tuple[list[Event], ModelResponse]:
    """Events of one response as the coalescer hands them over: deltas joined in random groups."""
    rng = random.Random(seed)
    chunks = list(stream_chunks(len(text), seed)) if not text else [text[i:i + 5] for i in range(0, len(text), 5)]
    events: list[Event] = [NodeStarted(0, 0), PartStarted(0, 0, 0, "thinking", thinking[:3])]
    events += [PartDelta(0, 0, 0, thinking[3:])]
    events.append(PartStarted(0, 0, 1, "text", chunks[0]))
    i = 1
    while i < len(chunks):
        j = i + rng.randint(1, batch)
        events.append(PartDelta(0, 0, 1, "".join(chunks[i:j])))
        i = j
    response = ModelResponse(parts=[ThinkingPart(thinking), TextPart("".join(chunks))])
    return events + [ResponseFinished(0, 0, response)], response


def demo_text(tokens: int) -> str:
    return "".join(stream_chunks(tokens, tokens))


def run(events: list[Event]) -> tuple[BeautifulSoup, list[str]]:
    r, page = renderer(), page_for(0)
    frames = [r.frame([e]) for e in events]
    for frame in frames:
        apply(page, frame)
    return page, frames


def test_streamed_markdown_ends_as_the_stored_block_renders() -> None:
    for seed in range(5):
        events, response = stream_events(demo_text(600), "Let me think about it.", seed)
        page, _ = run(events)
        assert canonical(str(page.find(id="node-0-0"))) == canonical(to_xml(ResponseBlock(0, 0, response), indent=False))
        assert page.find(id="part-0-0-1") is None, "the live tail is gone"


def sent_blocks(frames: list[str]) -> list[str]:
    """The rendered blocks the frames carry: appended to a chunk, or in new chunks before the tail."""
    out = []
    for frame in frames:
        for el in [c for c in BeautifulSoup(frame, "html.parser").contents if isinstance(c, Tag)]:
            if el["hx-swap-oob"] == "beforeend" and el["id"].startswith("chunk-"):
                out.append(el.decode_contents())
            elif el["hx-swap-oob"] == "beforebegin":
                out += [chunk.decode_contents() for chunk in el.find_all(class_="md-chunk", recursive=False)]
    return out


def test_each_block_is_rendered_and_sent_once() -> None:
    text = demo_text(2000)
    events, _ = stream_events(text, "Hm.", 1)
    _, frames = run(events)
    sent = sent_blocks(frames)
    # The rendered blocks, in order, make up the whole rendered text: each was sent once, none again.
    assert len(sent) > 20 and canonical("".join(sent)) == canonical(render_markdown(text))
    # Everything else is deltas and provisional tails: no frame carries more than its open block, rendered.
    longest = max(len(block) for block in render_blocks(text))
    for frame in frames:
        rest = len(frame) - sum(len(b) for b in sent_blocks([frame]))
        assert rest < 2 * longest + 300, frame


def test_blocks_fill_chunks_of_a_fixed_size_in_order() -> None:
    text = demo_text(3000)
    page, _ = run(stream_events(text, "Hm.", 3)[0])
    chunks = page.find(id="block-0-0-1").find_all(class_="md-chunk", recursive=False)
    sizes = [len([c for c in chunk.contents if isinstance(c, Tag)]) for chunk in chunks]
    assert len(sizes) >= 3 and set(sizes[:-1]) == {CHUNK_BLOCKS} and 0 < sizes[-1] <= CHUNK_BLOCKS
    assert [c["id"] for c in chunks] == [f"chunk-0-0-1-{i}" for i in range(len(chunks))]


def test_the_final_swap_is_as_small_as_the_last_open_block() -> None:
    text = demo_text(5000) + "\n\nThe last paragraph."
    events, _ = stream_events(text, "Hm.", 2)
    _, frames = run(events)
    final = frames[-1]
    assert len(final) < 1200, final  # the last block, the tail's removal and the answer's Copy button
    assert "The last paragraph." in final and 'hx-swap-oob="delete"' in final
    assert re.search(r"<div [^>]*hx-swap-oob=\"beforeend\"[^>]*id=\"node-0-0\"", final), "the Copy button is appended"
    assert not re.search(r'hx-swap-oob="true"[^>]*id="node-0-0"', final), "the node is not re-sent"


def test_a_block_finishing_resets_the_tail_to_the_open_text() -> None:
    r = renderer()
    r.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "First para")])
    assert r.frame([PartDelta(0, 0, 0, "graph.")]) == '<span hx-swap-oob="beforeend" id="caret-0-0-0">graph.</span>'
    frame = r.frame([PartDelta(0, 0, 0, "\n\nSecond")])
    assert '<div id="chunk-0-0-0-0" class="md-chunk"><p>First paragraph.</p>' in frame
    assert frame.endswith('<div hx-swap-oob="innerHTML" id="part-0-0-0"><p>Second<span id="caret-0-0-0"></span></p>\n</div>')
    assert r.frame([PartDelta(0, 0, 0, " para\n\nThird")]).startswith(
        '<div hx-swap-oob="beforeend" id="chunk-0-0-0-0"><p>Second para</p>'), "the next block joins the chunk"


def test_blank_lines_between_blocks_are_not_appended_to_the_tail() -> None:
    r = renderer()
    r.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "# Title\n")])
    assert r.frame([PartDelta(0, 0, 0, "\n")]) == '<div hx-swap-oob="innerHTML" id="part-0-0-0"></div>'


def test_a_catch_up_renders_the_finished_blocks_at_once() -> None:
    r = renderer()
    frame = r.frame([TurnStarted(0, "hi"), NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "# A\n\npara one\n\nopen")])
    assert "<h1>A</h1>" in frame and "<p>para one</p>" in frame
    assert '<div id="part-0-0-0" class="md-tail"><p>open<span id="caret-0-0-0"></span></p>\n</div>' in frame


def test_text_that_does_not_match_the_response_gets_the_whole_node() -> None:
    r = renderer()
    r.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "abc")])
    final = r.frame([ResponseFinished(0, 0, ModelResponse(parts=[TextPart("abcd")]))])
    assert final.startswith('<div hx-swap-oob="true" id="node-0-0"') and "<p>abcd</p>" in final


def test_empty_text_and_thinking_parts_are_removed_as_a_reload_omits_them() -> None:
    r = renderer()
    r.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "thinking", ""), PartStarted(0, 0, 1, "text", "\n")])
    call = ToolCallPart("run_python", '{"code": "1"}', tool_call_id="c")
    r.frame([PartStarted(0, 0, 2, "tool_call", '{"code": "1"}', "run_python")])
    final = r.frame([ResponseFinished(0, 0, ModelResponse(parts=[ThinkingPart(""), TextPart("\n"), call]))])
    assert '<div hx-swap-oob="delete" id="block-0-0-0"></div><div hx-swap-oob="delete" id="block-0-0-1"></div>' in final
    assert 'id="block-0-0-2"' in final and "code-block" in final and "running" not in final


def test_a_new_turn_forgets_the_parts_of_the_one_it_replaces() -> None:
    r = renderer()
    r.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "old")])
    r.frame([TurnStarted(0, "edited", replaces=True)])
    # The old part is not live any more: the new turn's node 0-0 finishing with a part it never streamed is re-sent whole.
    final = r.frame([ResponseFinished(0, 0, ModelResponse(parts=[TextPart("old")]))])
    assert final.startswith('<div hx-swap-oob="true" id="node-0-0"')


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish, st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=20))
def test_a_stream_yields_the_same_blocks_as_the_stored_render(text: str, cuts: list[int]) -> None:
    """Chunks are counted in blocks, so the live blocks must be the stored render's, one for one (not just joined)."""
    blocks, out, i = MarkdownBlocks(), [], 0
    for step in cuts * (len(text) // max(1, sum(cuts)) + 1):
        out += blocks.feed(text[i:i + step])
        i += step
    out += blocks.feed(text[i:]) + blocks.finish()
    assert out == render_blocks(text)
