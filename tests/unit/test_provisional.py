"""The open block while it streams: rendered with its open syntax closed, never showing markup the finished block hides."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_live_parts import apply, demo_text, page_for, renderer, stream_events
from tests.unit.test_markdown_xss import markdownish
from ui.provisional import provisional_html
from varro.chat.events import Event, NodeStarted, PartDelta, PartStarted


def shown(html: str) -> str:
    return BeautifulSoup(html, "html.parser").get_text()


@pytest.mark.parametrize(("tail", "html"), [
    ("Hello **wor", '<p>Hello <strong>wor<span id="c"></span></strong></p>'),
    ("Hello **", "<p>Hello</p>"),
    ("a **b** and *it", '<p>a <strong>b</strong> and <em>it<span id="c"></span></em></p>'),
    ("**bold*", "<p><strong>bold</strong></p>"),
    ("Use `co", '<p>Use <code>co<span id="c"></span></code></p>'),
    ("~~gone", '<p><del>gone<span id="c"></span></del></p>'),
    ("```python\nx = 1\n", '<pre class="live-code" data-lang="python"><code class="language-python">x = 1\n'
                           '<span id="c"></span></code></pre>'),
    ("```python\nx = 1\n``", '<pre class="live-code" data-lang="python"><code class="language-python">x = 1\n</code></pre>'),
    ("- one\n- tw", '<ul>\n<li>one</li>\n<li>tw<span id="c"></span></li>\n</ul>'),
    ("- one\n-", "<ul>\n<li>one</li>\n</ul>"),
    ("Text\n1", '<p>Text</p>'),
    ("##", ""),
    ("## Hea", '<h2>Hea<span id="c"></span></h2>'),
    ("See [the docs](https://exa", "<p>See the docs</p>"),
    ('See [the docs](https://example.com "Its ti', "<p>See the docs</p>"),
    ("| a | b |\n|--", "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n</table>"),
    ("2 * 3 and snake_case", '<p>2 * 3 and snake_case<span id="c"></span></p>'),
    ("A price of $", "<p>A price of</p>"),
    ("Area $r^2", '<p>Area <math display="inline"><mrow><msup><mi>r</mi><mn>2</mn></msup><mi></mi></mrow></math></p>'),
    ("See \\(x", '<p>See <math display="inline"><mrow><mi>x</mi><mi></mi></mrow></math></p>'),
    ("$$\nx^2\n$", '<math display="block"><mrow><msup><mi>x</mi><mn>2</mn></msup></mrow></math>'),
])
def test_open_syntax_is_closed_or_left_out_for_display(tail: str, html: str) -> None:
    assert provisional_html(tail, "c")[0].strip() == html


def test_the_models_own_private_use_character_cannot_pose_as_the_caret() -> None:
    html, caret = provisional_html("a \ue000 b", "c")
    assert html.count('<span id="c">') == 1 and "\ue000" not in html and caret


def live_frames(events: list[Event]) -> list[tuple[str, str]]:
    """After each event: the text the live tail shows, and the text a fresh provisional render of the same tail shows."""
    r, page, out = renderer(), page_for(0), []
    for event in events:
        apply(page, r.frame([event]))
        tail = page.find(id="part-0-0-1")
        live = r.live._parts.get((0, 0, 1))
        if tail is not None and live is not None and live.md is not None:
            out.append((tail.get_text(), shown(provisional_html(live.md.tail, "c")[0])))
    return out


def test_a_demo_stream_never_shows_the_markup_its_finished_blocks_hide() -> None:
    # The demo's markdown renders with no "*", "`" or "#" left: none may show while it streams either.
    for seed in range(3):
        events, _ = stream_events(demo_text(800), "Hm.", seed)
        for live, fresh in live_frames(events):
            assert not set(live) & set("*`#"), live
            assert live.split() == fresh.split(), "text appended at the caret shows what a new render would"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish, st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=12))
def test_appending_at_the_caret_shows_what_a_new_render_would(text: str, cuts: list[int]) -> None:
    events: list[Event] = [NodeStarted(0, 0), PartStarted(0, 0, 0, "thinking", ""), PartStarted(0, 0, 1, "text", "")]
    i = 0
    for step in cuts * (len(text) // max(1, sum(cuts)) + 1):
        if text[i:i + step]:
            events.append(PartDelta(0, 0, 1, text[i:i + step]))
        i += step
    for live, fresh in live_frames(events):
        assert live.split() == fresh.split()


def test_frames_that_only_set_the_tail_never_carry_a_finished_code_block() -> None:
    # chat.js decorates the whole page when a frame carries "code-block": only finished blocks may.
    events, _ = stream_events(demo_text(1500), "Hm.", 4)
    r = renderer()
    tails = [f for f in (r.frame([e]) for e in events) if 'id="part-0-0-1"' in f and "chunk-" not in f]
    assert any("live-code" in f for f in tails) and not any("code-block" in f for f in tails)
