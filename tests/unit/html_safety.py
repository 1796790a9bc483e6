"""Checks shared by the markdown tests: what sanitized HTML may contain, as a browser would read it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ui import maths

ALLOWED_ATTRS = {
    "a": {"href", "rel", "target"},
    "pre": {"class", "data-lang"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
ALLOWED_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em"} | {
    "strong", "del", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "br", "span", "div"
}  # fmt: skip


class _Markup(HTMLParser):
    """Collects every start tag with its attributes, the way a browser would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def markup_only(html: str) -> str:
    """The output with its text removed: what is left is tags and attributes only.

    Text is escaped (`<` is always `&lt;`), so an `onerror=` or `javascript:` inside prose is inert;
    the brief's literal checks apply to the markup.
    """
    return re.sub(r">[^<]*<", "><", ">" + html + "<")


# Typeset maths (ui/maths.py) is added after the sanitizer, under its own MathML allow-list.
_MATH_RE = re.compile(r"<math\b.*?</math>", re.DOTALL)


def without_math(html: str) -> str:
    """The output with its typeset maths left out: what the general sanitizer produced."""
    return _MATH_RE.sub("", html)


def assert_safe_math(element: str) -> None:
    parser = _Markup()
    parser.feed(element)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in maths.TAGS, (tag, element)
        for name, value in attrs:
            assert name in maths.ATTRS and re.fullmatch(r"[A-Za-z0-9.%\- ]*", value or ""), (tag, name, element)


def assert_safe(html: str) -> None:
    for element in _MATH_RE.findall(html):
        assert_safe_math(element)
    html = without_math(html)
    lowered = html.lower()
    for needle in ("<script", "<img", "<svg", "<math", "<iframe", "<object", "<embed", "<form", "<input", "<button"):
        assert needle not in lowered, (needle, html)
    for needle in ("<style", "<meta", "<link", "<base", "<textarea", "<template"):
        assert needle not in lowered, (needle, html)
    tags = markup_only(lowered)
    assert not re.search(r"\son\w+\s*=", tags), html
    for needle in ("javascript:", "vbscript:", "data:", "hx-", " id=", "style=", " x-", " @", " :"):
        assert needle not in tags, (needle, html)
    parser = _Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert name in ALLOWED_ATTRS.get(tag, set()), (tag, name, html)
            if name == "href":
                assert re.match(r"(https?://|mailto:)", value or "", re.IGNORECASE), html
            if tag == "a":
                assert dict(attrs).get("rel") == "nofollow noopener noreferrer", html
                assert dict(attrs).get("target") == "_blank", html
