"""Model markdown to sanitized HTML.

Two layers, because the output is inserted into a live htmx/Alpine page (docs/design.md section 10):

1. markdown-it-py, CommonMark preset, raw HTML off: every ``<`` the model writes becomes ``&lt;``.
   Tables and strikethrough on, linkify off. Link reference definitions (``[x]: /url``) are off
   too: a definition at the end of a message would retroactively change blocks that were already
   streamed (see ui/md_blocks.py); with them off, each top-level block renders on its own and a
   streamed message is byte-identical to the same message rendered whole. They show as plain text.
2. nh3 (ammonia) with an explicit allow-list, applied to the whole output, so a bug or a surprise
   in layer 1 still cannot put ``id``, ``on*``, ``hx-*``, Alpine attributes, ``style``, forms,
   scripts or external fetches into the page.

Images: the model can point an image at any URL, and loading it would leak the conversation's
existence (and whatever the URL encodes) to a third party, so ``![alt](url)`` renders as
``<span class="md-image">alt</span>`` and the sanitizer drops every ``<img>``. Not a link either: an
image is often already inside a link (``[![x](a)](b)``) and nested anchors are invalid HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core.normalize import NEWLINES_RE, NULL_RE
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin

from ui.highlight import CLASS_PREFIX, highlight_code
from ui.math_syntax import bracket_math_plugin
from ui.maths import math_html

# A fence's language ends up in a class and a data attribute: keep it to one boring token.
_LANG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+#.-]{0,31}")
_CLASS_RE = re.compile(rf"{re.escape(CLASS_PREFIX)}[A-Za-z0-9]{{1,24}}|code-block|live-code|md-image|math-source|language-{_LANG_RE.pattern}")
_HREF_RE = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)
_ALIGN = frozenset({"left", "center", "right"})


def _new_parser() -> MarkdownIt:
    """The one markdown configuration; md_blocks.py uses the same instance for its block boundaries."""
    # breaks: a single newline is a line break, as the well-known chat apps show it (a poem keeps its lines), and
    # as the live tail already shows it (white-space: pre-wrap), so nothing jumps when a block is finished.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.disable("reference")
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("th_open", _render_cell_open)
    md.add_render_rule("td_open", _render_cell_open)
    md.add_render_rule("s_open", _render_strike)
    md.add_render_rule("s_close", _render_strike)
    # Maths: $x$ and $$x$$ (not "$5 and $10": no space inside the dollars, no digit after the closing one),
    # \(x\) and \[x\]. Each renders as a placeholder that render_markdown swaps for MathML after sanitizing.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, allow_blank_lines=False,
                      double_inline=True)
    bracket_math_plugin(md)
    for name in ("math_inline", "math_inline_double", "math_block"):
        md.add_render_rule(name, _render_math)
    return md


def code_language(info: str) -> str | None:
    """The language named by a fence's info string, if it is a plain identifier."""
    words = unescapeAll(info).split()
    return words[0] if words and _LANG_RE.fullmatch(words[0]) else None


def code_block_html(code: str, lang: str | None, highlight: bool = True) -> str:
    """``<pre class="code-block" data-lang=x><code class="language-x">`` with highlighted code.

    Unhighlighted (a provisional render of a block still streaming) it is ``<pre class="live-code">``:
    chat.js gives every new ``code-block`` a Copy button, and that one is rendered again with each delta.
    """
    pre_attrs = f' data-lang="{lang}"' if lang else ""
    code_attrs = f' class="language-{lang}"' if lang else ""
    if not highlight:
        return f'<pre class="live-code"{pre_attrs}><code{code_attrs}>{html.escape(code, quote=False)}</code></pre>\n'
    return f'<pre class="code-block"{pre_attrs}><code{code_attrs}>{highlight_code(code, lang)}</code></pre>\n'


def _render_fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    return code_block_html(token.content, code_language(token.info), env.get("highlight", True))


def _render_code_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return code_block_html(tokens[idx].content, None, env.get("highlight", True))


# Placeholders for typeset maths in the rendered HTML; the model's own such characters become U+FFFD first.
_MATH_OPEN, _MATH_CLOSE = "\ue001", "\ue002"
_MATH_RE = re.compile(f"{_MATH_OPEN}([0-9]+){_MATH_CLOSE}")


def _render_math(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    formulas = env.setdefault("math", [])
    formulas.append((token.content, token.block or token.type == "math_inline_double", token.block))
    return f"{_MATH_OPEN}{len(formulas) - 1}{_MATH_CLOSE}" + ("\n" if token.block else "")


def _render_image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<span class="md-image">{html.escape(alt, quote=False)}</span>'


def _render_strike(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # markdown-it writes <s> for ~~x~~; <del> is the allow-listed tag.
    return "<del>" if tokens[idx].nesting == 1 else "</del>"


def _render_cell_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # markdown-it aligns cells with style="text-align:x"; style is never allowed, the align attribute is.
    token = tokens[idx]
    align = str(token.attrGet("style") or "").removeprefix("text-align:")
    return f'<{token.tag} align="{align}">' if align in _ALIGN else f"<{token.tag}>"


_MD = _new_parser()


# --- sanitizer -----------------------------------------------------------------------------------

_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em", "strong", "del"}
    | {"a", "table", "thead", "tbody", "tr", "th", "td", "hr", "br", "span", "div"}
)
# Dropped with their content (not just unwrapped): their text is code or markup, not prose.
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "template", "iframe", "object", "embed", "svg", "math", "noscript", "textarea"}
    | {"select", "title", "xmp", "noembed", "noframes", "plaintext"}
)
_ATTRIBUTES = {
    "a": {"href"},
    "pre": {"class", "data-lang"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},  # "3. x" must stay item 3; a bare integer is harmless
}


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    """Second check on every surviving attribute value; anything not recognised is removed."""
    if attr == "class":
        kept = [c for c in value.split() if _CLASS_RE.fullmatch(c)]
        return " ".join(kept) or None
    if attr == "href":
        return value if _HREF_RE.match(value) else None
    if attr == "data-lang":
        return value if _LANG_RE.fullmatch(value) else None
    if attr == "align":
        return value if value in _ALIGN else None
    if attr == "start":
        return value if value.isascii() and value.isdigit() and len(value) <= 9 else None
    if tag == "a" and attr in ("rel", "target"):
        return value  # set by the cleaner itself (link_rel, set_tag_attribute_values)
    return None


_CLEANER = nh3.Cleaner(
    tags=set(_TAGS),
    clean_content_tags=set(_DROP_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in _ATTRIBUTES.items()},
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel="nofollow noopener noreferrer",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
)


def _valid_unicode(text: str) -> str:
    # Lone surrogates (possible from JSON "\ud800") cannot cross into nh3's Rust; replace them, as a browser would.
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


# A start tag as nh3 serializes it: attribute values always double-quoted, a literal `"` inside one is
# `&quot;`, and text never holds a raw `<`, so this cannot match inside text or an attribute value.
_START_TAG_RE = re.compile(r'<([a-z][a-z0-9]*)((?: [^\s"\'=<>/]+="[^"]*")+)>')
_ATTR_RE = re.compile(r' [^\s"\'=<>/]+="[^"]*"')


def _sort_attributes(match: re.Match[str]) -> str:
    return f"<{match[1]}{''.join(sorted(_ATTR_RE.findall(match[2])))}>"


# An HTML parser drops a newline right after <pre>, and nh3's serializer does not put it back.
_PRE_LF_RE = re.compile(r'(<pre(?: [^\s"\'=<>/]+="[^"]*")*>)\n')
# nh3 re-nests some malformed input (stray table parts) differently on a second pass; a few passes
# reach a fixed point (the fuzzing in the tests never needed more than 3). Markdown output needs one.
_MAX_PASSES = 5


def _canonical(clean_html: str) -> str:
    # nh3's attribute order depends on the input (a dropped `title` moves `rel` before `target`), so
    # re-sanitizing could reorder; a fixed order makes the output stable byte for byte.
    sorted_attrs = _START_TAG_RE.sub(_sort_attributes, clean_html)
    return _PRE_LF_RE.sub("\\1\n\n", sorted_attrs)


def _clean_once(html_text: str) -> str:
    return _canonical(_CLEANER.clean(html_text))


def sanitize_html(html_text: str) -> str:
    """Allow-list sanitizer for any HTML that reaches the page from model output.

    Idempotent: the result is returned only once sanitizing it again changes nothing. Every pass is
    the full allow-list cleaner, so the result is safe even if the passes ran out first.
    """
    text = _valid_unicode(html_text)
    out = _clean_once(text)
    if out == text:  # the cleaner kept it as it was (most markdown does): a fixed point already, no second pass
        return out
    for _ in range(_MAX_PASSES):
        again = _clean_once(out)
        if again == out:
            break
        out = again
    return out


def shown_verbatim(text: str) -> bool:
    """True if ``render_markdown`` takes ``text`` as it is: no carriage return or NUL (markdown-it normalises them),
    no lone surrogate, no placeholder of typeset maths."""
    return not any(c in text for c in "\r\x00" + _MATH_OPEN + _MATH_CLOSE) and _valid_unicode(text) == text


def render_markdown(text: str, highlight: bool = True) -> str:
    """Markdown (raw HTML off) to sanitized HTML; ``highlight=False`` leaves code plain (a provisional render).

    Maths is typeset after the sanitizer has run, from the formulas' source, by ui/maths.py (MathML
    under its own allow-list): the general sanitizer never has to let ``<math>`` through.
    """
    return _rendered(text, _MD.render, highlight)


def render_inline(text: str) -> str:
    """Inline markdown alone (the content of a table's cell, as ``render_markdown`` renders it inside the table)."""
    return _rendered(text, _MD.renderInline, False)


def _rendered(text: str, render: Any, highlight: bool) -> str:
    env: dict[str, Any] = {"highlight": highlight}
    text = _valid_unicode(text).replace(_MATH_OPEN, "\ufffd").replace(_MATH_CLOSE, "\ufffd")
    out = sanitize_html(render(text, env))
    formulas = env.get("math")
    if not formulas:
        return out
    return _MATH_RE.sub(lambda m: math_html(*formulas[int(m[1])]), out)


def parse_blocks(text: str) -> list[Token]:
    """Block-level tokens (no inline pass) of ``text``, under the exact configuration render_markdown uses."""
    tokens: list[Token] = []
    # The same normalisation as markdown-it's core "normalize" rule, so line numbers match render_markdown's.
    src = NULL_RE.sub("\ufffd", NEWLINES_RE.sub("\n", _valid_unicode(text)))
    _MD.block.parse(src, _MD, {}, tokens)
    return tokens
