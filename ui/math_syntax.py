"""``\\(...\\)`` and ``\\[...\\]`` for markdown-it (``$`` and ``$$`` come from mdit-py-plugins' dollarmath).

Our own small rules rather than mdit-py-plugins' texmath: its block rule matches against the rest of
the whole document and gives its token no line map, and ui/md_blocks.py needs every top-level block
to be local and to say which lines it spans.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline


def _paren_inline(state: StateInline, silent: bool) -> bool:
    if not state.src.startswith("\\(", state.pos):
        return False
    end = state.src.find("\\)", state.pos + 2)
    if end <= state.pos + 2:
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = state.src[state.pos + 2 : end]
        token.markup = "\\("
    state.pos = end + 2
    return True


def _line(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def _bracket_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A display formula whose first line starts with ``\\[`` and whose last ends with ``\\]``; no blank line inside."""
    if state.sCount[start] - state.blkIndent >= 4 or not _line(state, start).startswith("\\["):
        return False
    parts, line = [_line(state, start)[2:]], start
    while not parts[-1].rstrip().endswith("\\]") or (line == start and parts[-1].rstrip() == ""):
        line += 1
        if line >= end or state.isEmpty(line):
            return False
        parts.append(_line(state, line))
    if silent:
        return True
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = "\n".join(parts).rstrip()[:-2].strip()
    token.markup = "\\["
    token.map = [start, line + 1]
    state.line = line + 1
    return True


def bracket_math_plugin(md: MarkdownIt) -> None:
    """Adds ``math_inline`` tokens for ``\\(x\\)`` and ``math_block`` tokens for ``\\[x\\]``."""
    md.inline.ruler.before("escape", "math_inline_paren", _paren_inline)
    md.block.ruler.before("fence", "math_block_bracket", _bracket_block,
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
