"""Model markdown made inert: an XSS corpus and the render-then-sanitize fixed point."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.xss_corpus import XSS_PAYLOADS
from tests.unit.html_safety import assert_safe, without_math
from ui.markdown import render_markdown, sanitize_html
from ui.md_blocks import MarkdownBlocks

ROOT = Path(__file__).resolve().parents[2]


# --- XSS corpus (tests/security/xss_corpus.py, shared with the browser test) ------------------------

def test_corpus_is_big_enough() -> None:
    assert len(XSS_PAYLOADS) >= 200


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_as_markdown_is_inert(payload: str) -> None:
    html = render_markdown(payload)
    assert_safe(html)
    assert sanitize_html(without_math(html)) == without_math(html)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_as_raw_html_is_sanitized(payload: str) -> None:
    html = sanitize_html(payload)
    assert_safe(html)
    assert sanitize_html(html) == html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_inside_a_stream_is_inert(payload: str) -> None:
    blocks = MarkdownBlocks()
    out = [html for ch in f"Intro\n\n{payload}\n\nOutro" for html in blocks.feed(ch)] + blocks.finish()
    for html in out:
        assert_safe(html)


# --- hypothesis: idempotence -----------------------------------------------------------------------

FRAGMENTS = [
    "<script>", "</script>", "<img src=x onerror=alert(1)>", "[a](javascript:alert(1))", "![i](http://x/i.png)",
    'hx-get="/x" hx-trigger="load"', '<div id="chat-turns" hx-swap-oob="true">', "</div>", "<a href=", '"', "'",
    "`", "```", "```python\n", "~~~", "*", "**", "_", "~~", "#", "# ", "## ", "\n", "\n\n", " ", "    ", "\t", "-", "- ",
    "1. ", "> ", "|", "| a | b |\n|---|:-:|\n", "---", "***", "===", "[", "]", "(", ")", "<", ">", "&", "&amp;",
    "&#106;", "&lt;", "\\", "<http://example.com>", "<mailto:a@b.c>", "javascript:", "data:", "é", "\u00a0", "€",
    "日本", "🙂", "\u200b", "\r\n", "\r", "\x00", "[x]: /u", "https://example.com", "a", "word", "x y z",
    "$", "$$", "\\(", "\\)", "\\[", "\\]", "$x^2$", "$\\text{<script>x</script>}$", "\\href{javascript:x}{y}",
    "\\frac{", "}", "{", "\ue001", "\ue002",
]  # fmt: skip
# Whole payloads from the XSS corpus too, so the property is also tried on text built to get through.
markdownish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(XSS_PAYLOADS), st.text(max_size=5)),
                       max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_render_is_a_fixed_point_of_the_sanitizer(text: str) -> None:
    html = without_math(render_markdown(text))
    assert sanitize_html(html) == html
    assert_safe(html)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_render_arbitrary_text_is_a_fixed_point(text: str) -> None:
    html = without_math(render_markdown(text))
    assert sanitize_html(html) == html


HTML_FRAGMENTS = [
    "<pre>", "</pre>", "<pre class=code-block>", "<table>", "</table>", "<tr>", "<td>", "<th>", "</td>", "<tbody>",
    "<thead>", "<caption>", "<col>", "<p>", "</p>", "<a href=https://x>", "<a href='javascript:x'>", "</a>", "<li>",
    "<ul>", "<ol start=3>", "</ul>", "<code>", "</code>", "<span class=hl-k>", "</span>", "<br>", "<hr>", "<h1>",
    "</h1>", "<div>", "</div>", "<blockquote>", "<em>", "</em>", "<del>", "<img src=x>", "<script>", "</script>",
    "<style>", "<svg>", "<math>", "<select>", "<option>", "<textarea>", "<!--", "-->", "<![CDATA[", "]]>",
    "<noscript>", "<template>", "<form>", "<button>", "<p id=x>", "<body>", "<title>", "<plaintext>", "<xmp>",
    "<iframe>", "<listing>", "\n", "\n\n", " ", "x", "&amp;", "&", "<", ">", '"', "'", "\x00", "\r", "&nbsp;",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(HTML_FRAGMENTS + FRAGMENTS), st.text(max_size=3)), max_size=30).map("".join))
def test_sanitize_html_is_idempotent_on_raw_html(text: str) -> None:
    once = sanitize_html(text)
    assert sanitize_html(once) == once
    assert_safe(once)


def test_a_leading_newline_in_pre_survives_reparsing() -> None:
    # A parser drops the first newline after <pre>; the canonical step writes it back each time.
    assert sanitize_html("<pre>\n\nx</pre>") == "<pre>\n\nx</pre>"
    assert sanitize_html(sanitize_html("<pre>\n\nx</pre>")) == "<pre>\n\nx</pre>"


