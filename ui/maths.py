"""TeX maths to MathML on the server: Chromium shows it natively, so the page loads no script or font for it.

``$...$`` and ``\\(...\\)`` are inline, ``$$...$$`` and ``\\[...\\]`` display maths (markdown-it plugins
from mdit-py-plugins find them; ui/markdown.py wires them in). latex2mathml converts the TeX; its
text is not reliably escaped (``\\text{<b>}`` comes back raw), so the tree is serialized again with
every text node escaped, and then cleaned by a MathML-only allow-list: MathML never passes the
general sanitizer, which still drops any ``<math>`` in what the model writes (raw HTML is off anyway).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from functools import lru_cache

import nh3
from latex2mathml.converter import convert_to_element

TAGS = frozenset(
    {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot"}
    | {"mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose"}
    | {"merror", "mmultiscripts", "mprescripts", "none"}
)
ATTRS = frozenset(
    {"display", "mathvariant", "displaystyle", "scriptlevel", "stretchy", "fence", "separator", "lspace", "rspace"}
    | {"form", "largeop", "movablelimits", "accent", "accentunder", "minsize", "maxsize", "symmetric", "linethickness"}
    | {"columnalign", "rowalign", "rowspacing", "columnspacing", "columnlines", "rowlines", "frame", "width"}
    | {"height", "depth", "notation", "voffset"}
)
# Values are words, numbers and lengths: nothing that could be a URL or a script.
_VALUE_RE = re.compile(r"[A-Za-z0-9.%\- ]{0,40}")
# Bigger formulas are shown as their source: latex2mathml's cost grows with them, and a model can write anything.
MAX_TEX = 2000


def _keep(tag: str, attr: str, value: str) -> str | None:
    return value if attr in ATTRS and _VALUE_RE.fullmatch(value) else None


_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags={"script", "style"},
    attributes={tag: set(ATTRS) for tag in TAGS},
    attribute_filter=_keep,
    strip_comments=True,
)


def _source(tex: str, block: bool) -> str:
    """What cannot be typeset is shown as the TeX the model wrote, as code (a block of its own in a paragraph)."""
    # A no-break space written as the sanitizer writes it: the rest of the answer has been through it, this has not.
    code = f'<code class="math-source">{html.escape(tex, quote=False).replace(chr(0xA0), "&nbsp;")}</code>'
    return f"<p>{code}</p>" if block else code


@lru_cache(maxsize=512)  # a streaming block renders the same formulas again and again
def math_html(tex: str, display: bool, block: bool) -> str:
    """A MathML ``<math>`` element for ``tex`` (``display``: typeset as a display formula), or the source as code.
    ``block``: the formula is a block of its own, not ``$$…$$`` inside a paragraph's line, whose source must not
    open a paragraph inside the paragraph."""
    if len(tex) > MAX_TEX or not tex.strip():
        return _source(tex, block)
    try:
        root = convert_to_element(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of error for TeX it cannot read
        return _source(tex, block)
    for el in root.iter():
        el.attrib.pop("xmlns", None)
        if el.text:
            el.text = html.unescape(el.text)  # some text comes as entities, some raw: make it all raw, then escape
        if el.tail:
            el.tail = html.unescape(el.tail)
    return _CLEANER.clean(ET.tostring(root, encoding="unicode", short_empty_elements=False))
