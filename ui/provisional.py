"""The open block of a streaming answer, rendered provisionally: unclosed syntax closed for display.

The approach of Vercel's Streamdown: before the open text (the tail ``MarkdownBlocks`` has not
rendered yet) is rendered, what it leaves open is closed (``**bold`` gets its ``**``, a code span its
backticks, a fence its closing line, maths its dollars) and what cannot be shown yet is left out (a
lone list marker or ``##`` starting a line, a half-typed fence closer, the ``[`` and the address of a
link still being written, a table's header before its delimiter row has come). The result goes
through the same ``render_markdown`` as every finished block, sanitizer included, so the page never
shows markup characters the finished block won't show.

Cost: one pass over the open text and one render of it, so bounded by the open block's size. To
keep most frames as small as a plain delta, the display text carries a marker at the point where
the next characters will go (``MARK``); the rendered marker becomes an empty element with an id,
and a delta that cannot change the structure (no markup character, not at the start of a line) is
then appended to that element as text instead of re-rendering (``appendable``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ui.markdown import render_markdown

# A private-use character: it renders as itself, in text, wherever the next characters will be.
MARK = "\ue000"
# A delta with one of these might open, close or restructure something: render the tail again. (Anything
# that matters only at the start of a line, as "-", "1." or "===", is caught by the start-of-line rule.)
_REPLACED = frozenset("\r\x00\ue000\ue001\ue002")  # characters a render shows otherwise than as they came
_TRIGGERS = frozenset("\n*_`~[]\\<>&$|#") | _REPLACED
_FENCE_RE = re.compile(r" {0,3}(`{3,}|~{3,})([^\n]*)")
_BLOCK_START_RE = re.compile(r" {0,3}(?:[-+*][ \t]+|[0-9]{1,9}[.)][ \t]+|#{1,6}[ \t]+|>[ \t]?)")
# A last line that is only the start of some syntax: it shows nothing until more of it comes.
_LONE_START_RE = re.compile(r"[ \t]*(?:[-+*]|[0-9]{1,9}[.)]?|#{1,6}|=+|-{2,}|`{1,2}|~{1,2}|>[ \t]*|\|[ \t:|-]*|\$\$?)")
_OPEN_LINK_RE = re.compile(r"""!?\[([^\[\]\n]*)(?:\](?:\([^()\s]*(?:[ \t]+(?:"[^"\n]*"?|'[^'\n]*'?)?)?)?)?$""")
_TABLE_DELIM_RE = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")


@dataclass(frozen=True)
class Display:
    """The text to render instead of the open text; ``exact`` when it is the open text, ``MARK`` and closers only."""

    text: str
    exact: bool


def appendable(tail_before: str, delta: str) -> bool:
    """True if ``delta`` can be appended as text where the last rendered ``MARK`` was, without a new render.

    Inside an open fence only a backtick or tilde can change anything (a closing line); elsewhere any
    markup character or newline can, and so can anything at the start of a line (a list, a heading).
    """
    if _open_fence(tail_before.split("\n")) is not None:
        return not any(c in _REPLACED or c in "`~" for c in delta)
    line = tail_before[tail_before.rfind("\n") + 1 :]
    # A newline that ends the delta shows nothing yet (a line break is seen only with a line after it, and
    # the next delta, at the start of a line, renders again), so it may be appended too.
    body = delta[:-1] if delta.endswith("\n") else delta
    if "](" in line and ")" in delta:
        return False  # may close a link whose address is hidden until then
    if line[-1:] in ("*", "_", "~", "`", "$", "\\"):
        return False  # what follows a delimiter decides whether it opens
    amp = line.rfind("&")
    if amp != -1 and not any(c in " \t;" for c in line[amp:]):
        return False  # "&am" may still become an entity
    return bool(line.strip(" \t0123456789")) and not any(c in _TRIGGERS for c in body)


def _open_fence(lines: list[str]) -> tuple[str, int] | None:
    """The (char, length) of a fence left open by ``lines``, or None."""
    fence: tuple[str, int] | None = None
    for line in lines:
        if fence is None:
            if (m := _FENCE_RE.match(line)) and not (m[1][0] == "`" and "`" in m[2]):
                fence = (m[1][0], len(m[1]))
        else:
            body = line.strip(" \t")
            if len(line) - len(line.lstrip(" ")) <= 3 and len(body) >= fence[1] and body == fence[0] * len(body):
                fence = None
    return fence


def close_for_display(text: str) -> Display:
    """The open text with everything it leaves open closed, ``MARK`` where the next characters will go."""
    lines = text.split("\n")
    last = lines[-1]  # the line being written ("" after a newline)
    fence = _open_fence(lines[:-1])
    if fence is not None:
        char, length = fence
        if last.strip(" ") and set(last.strip(" ")) == {char} and len(last) - len(last.lstrip(" ")) <= 3:
            # A closing line being typed: leave it out (the fence closes with it in a moment).
            return Display("\n".join(lines[:-1]) + "\n" + char * length, False)
        return Display(text + MARK + "\n" + char * length, True)
    if closer := _open_math_block(lines[:-1]):
        if closer in last:
            return Display(text, False)  # the formula is whole
        # Typeset again with each delta (nothing is appended to TeX); a closer being typed is left out.
        done = lines[:-1] if last.strip() and closer.startswith(last.strip()) else lines
        return Display("\n".join(done).rstrip("\n") + "\n" + closer, False)
    # At the start of a line nothing can be appended (the next delta renders again), so no mark there.
    exact = shows_last_line(last)
    if not exact:
        lines = lines[:-1]
    body = "\n".join(lines)
    if table := _close_table(lines):
        return Display(table, False)
    # A table's row is an inline container of its own (emphasis never crosses rows), as a paragraph is.
    start = len(body) - len(lines[-1]) if _is_table(lines) else _segment_start(lines)
    head, segment = body[:start], body[start:]
    if m := _OPEN_LINK_RE.search(segment):
        segment, exact = segment[: m.start()] + m[1], False
    shown, closers, complete = _inline_closers(segment)
    exact = exact and complete
    return Display(head + shown + (MARK if exact else "") + closers, exact)


def _open_math_block(lines: list[str]) -> str | None:
    """The closer of a display formula (``$$`` or ``\\[`` opening a line) that is still open, or None."""
    closer = None
    for line in lines:
        stripped = line.strip()
        if closer is None:
            if stripped.startswith("$$") and stripped.count("$$") % 2 == 1:
                closer = "$$"
            elif stripped.startswith("\\[") and "\\]" not in stripped:
                closer = "\\]"
        elif closer in stripped:
            closer = None
    return closer


def _segment_start(lines: list[str]) -> int:
    """Offset of the last inline container (a paragraph, a list item's text, a heading): emphasis never crosses one."""
    offset = sum(len(line) + 1 for line in lines) - 1
    for line in reversed(lines):
        offset -= len(line) + 1
        if not line.strip():
            return offset + len(line) + 1
        if m := _BLOCK_START_RE.match(line):
            return offset + 1 + m.end()
    return 0


def _close_table(lines: list[str]) -> str | None:
    """A table whose delimiter row has not fully come: the header with a full delimiter row (and nothing shown yet)."""
    rows = [line for line in lines if line.strip()]
    start = len(lines) - len(rows)
    if not rows or not rows[0].lstrip().startswith("|") or any(line.strip() == "" for line in lines[start:]):
        return None
    if len(rows) >= 2 and _TABLE_DELIM_RE.fullmatch(rows[1]) and rows[1].count("-") >= 1 and len(rows) > 2:
        return None  # a whole delimiter row and a body row: the table renders as it is
    if len(rows) > 2 or (len(rows) == 2 and not _TABLE_DELIM_RE.fullmatch(rows[1] + "-")):
        return None
    cells = max(1, len(rows[0].strip().strip("|").split("|")))
    return "\n".join(lines[:start] + [rows[0], "|" + "---|" * cells])


def _is_table(lines: list[str]) -> bool:
    """The lines are a table's (a header, a whole delimiter row, rows), as ``_close_table`` sees a table."""
    return (len(lines) > 2 and lines[0].lstrip(" ").startswith("|") and "-" in lines[1]
            and _TABLE_DELIM_RE.fullmatch(lines[1]) is not None)


def _inline_closers(segment: str) -> tuple[str, str, bool]:
    """What of ``segment`` to show, and the closers for what it leaves open (code span, maths, emphasis), innermost first.

    The last value is False when the segment ends in the middle of a closer (``**bold*``, completed by
    the closers) or with an opener that has nothing after it yet (left out): nothing can be appended
    there until more comes.
    """
    stack: list[str] = []  # open delimiters, innermost last
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "\\":
            if i + 1 == n:
                return segment[:i], _close(stack), False  # an escape or "\\(" still coming
            if segment.startswith("\\(", i) and segment.find("\\)", i + 2) == -1:
                return segment, _close(stack + ["\\)"]), True  # inline TeX still open
            i += 2
            continue
        j = i
        while j < n and segment[j] == c:
            j += 1
        run = segment[i:j]
        if c == "`" or c == "$":
            if c == "$" and run not in ("$", "$$"):
                i = j
                continue
            end = segment.find(run, j)
            while end != -1 and end + len(run) < n and segment[end + len(run)] == c:
                end = segment.find(run, end + len(run) + 1)
            if end == -1:
                if c == "$" and j == n:
                    return segment[:i], _close(stack), False  # maths or money: the next character says
                if c == "$" and (j == n or not segment[j].strip() or (run == "$" and segment[j].isdigit())):
                    i = j  # "$5" or a lone "$": money, not maths
                    continue
                return segment, _close(stack + [run]), True
            i = end + len(run)
            continue
        if c in "*_~":
            before = segment[i - 1] if i else " "
            after = segment[j] if j < n else ""
            opens = bool(after) and not after.isspace() and (before.isspace() or before in "*_~([{\"'" or c == "*")
            closes = not before.isspace() and (not after or after.isspace() or not after.isalnum() or c == "*")
            if c == "~" and len(run) != 2:
                i = j
                continue
            if stack and stack[-1][0] == c and closes:
                if len(run) < len(stack[-1]) and j == n:
                    # "**bold*": the rest of the closer comes next
                    return segment, stack[-1][len(run) :] + _close(stack[:-1]), False
                stack.pop()
            elif opens and not (closes and before.isalnum() and after.isalnum()):
                stack.append(run)
            elif not after and (before.isspace() or i == 0):
                return segment[:i], _close(stack), False  # "word **": an opener with nothing after it yet
        i = j
    return segment, _close(stack), True


def _close(stack: list[str]) -> str:
    return "".join(reversed(stack))


def shows_last_line(last: str) -> bool:
    """Whether the open text's unfinished last line shows (outside a fence or a formula). The final newline, or a
    line of spaces so far, changes nothing shown: the open paragraph or item goes on (after a blank line, spaces may
    be an item's next paragraph being indented, or the end of a list). A lone start (``-``, ``#``, ``|``) or a
    fence's opening line shows once it is more."""
    return bool(last.strip(" \t")) and not (_LONE_START_RE.fullmatch(last) or _FENCE_RE.match(last))


def provisional_html(text: str, mark_id: str) -> tuple[str, bool]:
    """The open text rendered for display, and whether it holds the empty ``<span id=mark_id>`` deltas can go into."""
    if not text.strip():
        return "", False  # nothing to show yet (an empty paragraph would only add a margin)
    text = text.replace(MARK, "\ufffd")  # the model's own private-use character must not pose as the mark
    display = close_for_display(text)
    html = render_markdown(display.text, highlight=False)
    at = html.find(MARK)
    # The mark must be in text (never in a tag, and it cannot be: nh3 leaves no raw "<" in text), and only once.
    in_math = html.rfind("<math", 0, at) > html.rfind("</math>", 0, at)  # typeset as TeX: render again instead
    if not display.exact or at == -1 or html.count(MARK) != 1 or html.rfind("<", 0, at) > html.rfind(">", 0, at) or in_math:
        return html.replace(MARK, ""), False
    rest = html[at + 1 :]
    if rest.startswith("\n</code>"):
        rest = rest[1:]  # the mark's own line in an open fence: no empty line at the end of the code
    return f'{html[:at]}<span id="{mark_id}"></span>{rest}', True
