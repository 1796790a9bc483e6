"""TeX in answers typeset as MathML on the server, under its own allow-list (ui/maths.py, ui/math_syntax.py)."""

from __future__ import annotations

import pytest

from tests.unit.html_safety import assert_safe
from ui.markdown import render_markdown
from ui.md_blocks import render_blocks


@pytest.mark.parametrize(("text", "inline", "block"), [
    ("the mean $\\bar{x}$ of $n$ values", 2, 0),
    ("as \\(e^{i\\pi} + 1 = 0\\) says", 1, 0),
    ("$$\n\\int_0^1 x\\,dx\n$$", 0, 1),
    ("\\[\n\\frac{1}{3}\n\\]", 0, 1),
    ("inline $$x^2$$ display", 0, 1),
])
def test_each_delimiter_typesets_maths(text: str, inline: int, block: int) -> None:
    html = render_markdown(text)
    assert html.count('<math display="inline">') == inline and html.count('<math display="block">') == block, html
    assert "$" not in html and "\\(" not in html and "\\[" not in html
    assert_safe(html)


def test_money_stays_text() -> None:
    assert render_markdown("It costs $5 and $10, or $ 3 $.") == "<p>It costs $5 and $10, or $ 3 $.</p>\n"


def test_tex_cannot_carry_markup_or_links() -> None:
    html = render_markdown("$\\text{<script>alert(1)</script>} \\href{javascript:alert(1)}{x}$")
    assert "&lt;script&gt;" in html and "<script" not in html and "javascript" not in html
    assert_safe(html)


def test_tex_that_cannot_be_read_shows_as_its_source() -> None:
    assert render_markdown("$\\frac{1}{$") == '<p><code class="math-source">\\frac{1}{</code></p>\n'


def test_display_tex_inside_a_line_that_cannot_be_read_stays_in_its_paragraph() -> None:
    assert render_markdown("<script>$$\\frac{$$") == '<p>&lt;script&gt;<code class="math-source">\\frac{</code></p>\n'


def test_placeholders_cannot_be_forged_by_the_model() -> None:
    assert "<math" not in render_markdown("\ue0010\ue002 and \ue001")


def test_a_streamed_answer_with_maths_renders_block_by_block_as_a_whole() -> None:
    text = "Intro $a$.\n\n$$\nb^2\n$$\n\nThen \\(c\\)\n\n\\[\nd\n\\]\n\nEnd."
    blocks = render_blocks(text)
    assert len(blocks) == 5 and "".join(blocks) == render_markdown(text)
