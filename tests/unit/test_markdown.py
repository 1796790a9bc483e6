"""Markdown rendering, the sanitizer on its own, highlighting and the stylesheet."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.html_safety import assert_safe
from ui.highlight import highlight_code, stylesheet
from ui.markdown import render_markdown, sanitize_html

ROOT = Path(__file__).resolve().parents[2]


# --- rendering -----------------------------------------------------------------------------------


def test_headings_lists_emphasis() -> None:
    html = render_markdown("# Title\n\n## Sub\n\nSome *em* and **strong** and ~~gone~~.\n\n- a\n- b\n\n3. c\n4. d\n")
    assert "<h1>Title</h1>" in html and "<h2>Sub</h2>" in html
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html and "<del>gone</del>" in html
    assert "<ul>\n<li>a</li>\n<li>b</li>\n</ul>" in html
    assert '<ol start="3">' in html


def test_fenced_code_is_highlighted_with_language_hooks() -> None:
    html = render_markdown("```python\ndef f(x):\n    return x\n```\n")
    assert html.startswith('<pre class="code-block" data-lang="python"><code class="language-python">')
    assert '<span class="hl-k">def</span>' in html
    assert "style=" not in html


def test_unknown_language_and_indented_code_are_plain_escaped_text() -> None:
    html = render_markdown("```no-such-lang\n<b>&\n```\n\n    x < y\n")
    assert (
        '<pre class="code-block" data-lang="no-such-lang"><code class="language-no-such-lang">&lt;b&gt;&amp;\n' in html
    )
    assert '<pre class="code-block"><code>x &lt; y\n</code></pre>' in html
    assert "<span" not in html


def test_odd_info_strings_give_no_language() -> None:
    html = render_markdown('```"><script>x\ncode\n```\n')
    assert html == '<pre class="code-block"><code>code\n</code></pre>\n'


def test_highlight_code_keeps_the_text_exactly() -> None:
    code = "x = '<a>'\n\n\tif x:  # c\n"
    html = highlight_code(code, "python")
    assert 'class="hl-' in html and "style" not in html
    assert re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&gt;", ">").replace("&#x27;", "'") == code
    assert highlight_code("a <b>", None) == "a &lt;b&gt;"
    assert highlight_code("a <b>", "nonsense-lang") == "a &lt;b&gt;"
    assert highlight_code("no newline", "python").endswith("newline</span>")


def test_table_alignment_uses_align_not_style() -> None:
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    assert '<th align="left">a</th>' in html and '<td align="center">2</td>' in html
    assert '<td align="right">3</td>' in html and "style" not in html


def test_links_open_in_a_new_tab_without_referrer() -> None:
    html = render_markdown('[site](https://example.com/a?b=1&c=2 "title") <mailto:a@example.com>')
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" target="_blank">site</a>'
        in html
    )
    assert '<a href="mailto:a@example.com" rel="nofollow noopener noreferrer" target="_blank">' in html
    assert "title" not in html


def test_relative_and_fragment_links_lose_their_href() -> None:
    html = render_markdown("[a](/chat/delete) [b](#chat-input) [c](//evil.example/x)")
    assert "href" not in html
    assert_safe(html)


def test_images_become_their_alt_text() -> None:
    html = render_markdown('![a *diagram*](https://tracker.example/p.png "t") and ![](x.png)')
    assert html == '<p><span class="md-image">a diagram</span> and <span class="md-image">image</span></p>\n'


def test_raw_html_is_escaped_not_rendered() -> None:
    html = render_markdown('<div id="chat-turns" hx-swap-oob="true">x</div>\n\n<b onclick="x()">b</b>')
    assert "&lt;div id=&quot;chat-turns&quot;" in html or '&lt;div id="chat-turns"' in html
    assert "&lt;b onclick=" in html
    assert_safe(html)


def test_link_reference_definitions_are_plain_text() -> None:
    # Deliberate: a definition would change earlier, already streamed blocks (see ui/markdown.py).
    assert render_markdown("[x]\n\n[x]: https://example.com") == "<p>[x]</p>\n<p>[x]: https://example.com</p>\n"


def test_lone_surrogates_do_not_crash() -> None:
    assert render_markdown("a\ud800b") == "<p>a?b</p>\n"
    assert sanitize_html("<p>a\udfffb</p>") == "<p>a?b</p>"


# --- the sanitizer on its own -----------------------------------------------------------------------


def test_sanitizer_policy_on_raw_html() -> None:
    dirty = (
        '<div id="chat-input" class="fixed inset-0 hl-k" hx-get="/x" hx-trigger="load" x-data="{}" @click="f()"'
        ' :class="c" style="color:red" onclick="alert(1)" data-hx-post="/y">'
        '<a href="javascript:alert(1)" onclick="x">j</a><a href="https://ok.example" rel="opener" target="_self">ok</a>'
        '<img src="https://tracker.example/x.png"><img src="data:image/png;base64,AAAA">'
        "<script>alert(1)</script><style>*{}</style><svg><circle/></svg><iframe src=x></iframe>"
        '<form action="/x"><input name="q"><button>go</button></form><meta http-equiv=refresh><base href=/>'
        '<pre class="code-block evil" data-lang="py thon"><code class="language-py">x</code></pre>'
        '<td align="justify">t</td><ol start="1e9"><li>x</li></ol></div>'
    )
    clean = sanitize_html(dirty)
    assert clean == (
        '<div class="hl-k"><a rel="nofollow noopener noreferrer" target="_blank">j</a>'
        '<a href="https://ok.example" rel="nofollow noopener noreferrer" target="_blank">ok</a>go'
        '<pre class="code-block"><code class="language-py">x</code></pre>t<ol><li>x</li></ol></div>'
    )
    assert sanitize_html(clean) == clean


# --- stylesheet --------------------------------------------------------------------------------------


def test_generated_stylesheet_is_current_and_themed() -> None:
    css = stylesheet()
    assert (ROOT / "static/css/pygments.css").read_text() == css, (
        "run: python -m ui.highlight > static/css/pygments.css"
    )
    assert ".code-block .hl-k {" in css
    assert "[data-theme=dark] .code-block .hl-k {" in css
    media = css[css.index("@media (prefers-color-scheme: dark) {") :]
    assert "\n  :root:not([data-theme=light]) .code-block .hl-k {" in media
    assert "style=" not in css and "pre {" not in css


def test_single_newlines_are_line_breaks() -> None:
    """A poem keeps its lines when its block is finished, as the live tail (pre-wrap) already showed them."""
    html = render_markdown("Roses are red,\nviolets are blue.\n\nA new stanza.")
    assert "<p>Roses are red,<br>\nviolets are blue.</p>" in html
    assert "<p>A new stanza.</p>" in html
