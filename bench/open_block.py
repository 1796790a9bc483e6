"""`python -m bench.open_block`: server CPU per token against the open block's length, for each kind of block.

One long block of each kind (a table, a bulleted and a numbered list, a loose list, numbered steps with
sub-points, a fence of code, a paragraph of many lines, a quote of one paragraph and one of many, display
maths) is streamed through the server's own rendering of a connection's frames (`app.render.Renderer`, what
`app/ws.py` sends), 4 characters a token and a frame every 4 tokens, as a model
at about 1,000 tokens a second fills 16 ms windows. Printed per kind: CPU per token over the block's first
fifth and its last fifth and their ratio (1.0 = a token costs the same at any length), and CPU per token
over the whole block beside the baseline measured in the same run: prose, the same characters as the
table's as paragraphs (each one a finished block, rendered once). CPU is the process's own
(`time.process_time`); each figure is the least of `--runs` runs, the one least disturbed by other work
on the machine (on a shared machine single runs wander by 2x either way).

    python -m bench.open_block [--rows 2000] [--runs 3] [--kinds table,list,...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from app.render import Renderer
from varro.chat.events import NodeStarted, PartDelta, PartStarted

TOKEN = 4  # characters a token
PER_FRAME = 4  # tokens a frame

KINDS: dict[str, tuple[str, Callable[[int], str]]] = {
    # kind: (what opens the block, its i-th row / item / line); measured open, without a closer: the finished
    # block's one render (a fence's highlighting) is not what a token costs
    "table": ("| # | name | note | value |\n|---|:--|---|--:|\n",
              lambda i: f"| {i} | row **{i}** | some `code` and words | {i * 3.5} |\n"),
    "list": ("", lambda i: f"- item {i} with *emphasis*, `code` and a few more words\n"),
    "numbered": ("", lambda i: f"{i + 1}. step {i}: do **this** and then that, with words\n"),
    "code": ("```python\n", lambda i: f"    result = compute(values[{i}], `x`)  # step {i}\n"),
    "paragraph": ("Lines\n", lambda i: f"line {i} of a long paragraph, with **bold** and plain words\n"),
    "quote": ("", lambda i: f"> quoted line {i} with *emphasis* and some more words\n"),
    "quote paragraphs": ("", lambda i: f"> paragraph {i} with *emphasis* and words\n> and a second line\n>\n"),
    # a blank line between items makes a list loose; an answer's steps often hold sub-points
    "loose list": ("", lambda i: f"- item {i} with *emphasis*, `code` and a few more words\n\n"),
    "steps": ("", lambda i: f"{i + 1}. **Step {i}**: do this\n    - a detail with `code`\n    - and another\n\n"),
    "maths": ("$$\n", lambda i: f"a_{{{i}}} + b_{{{i}}} = c_{{{i}}} \\\\\n"),
}


def prose_like(text: str) -> str:
    """The same characters as paragraphs of about a table row's length, each closed by a blank line."""
    words, out, line = text.replace("|", " ").replace("*", " ").replace("`", " ").split(), [], []
    for word in words:
        line.append(word)
        if sum(len(w) + 1 for w in line) >= 60:
            out.append(" ".join(line) + "\n\n")
            line = []
    return "".join(out) + " ".join(line) + "\n"


def stream_cpu(text: str) -> list[float]:
    """CPU seconds for each token of `text`, frame by frame (a frame's cost spread over its tokens)."""
    renderer = Renderer(lambda path: f"/chat/uploads/{path}", lambda title: None)
    renderer.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "")])
    tokens = [text[i : i + TOKEN] for i in range(0, len(text), TOKEN)]
    costs: list[float] = []
    for i in range(0, len(tokens), PER_FRAME):
        group = tokens[i : i + PER_FRAME]
        started = time.process_time()
        renderer.frame([PartDelta(0, 0, 0, "".join(group))])
        costs += [(time.process_time() - started) / len(group)] * len(group)
    return costs


def fifths(costs: list[float]) -> tuple[float, float]:
    n = max(1, len(costs) // 5)
    return sum(costs[:n]) / n, sum(costs[-n:]) / n


def measure(text: str, runs: int) -> tuple[float, float, float]:
    """The least over runs of: µs a token over the first fifth, over the last fifth, over all of it."""
    results = [stream_cpu(text) for _ in range(runs)]
    first = min(fifths(c)[0] for c in results) * 1e6
    last = min(fifths(c)[1] for c in results) * 1e6
    whole = min(sum(c) / len(c) for c in results) * 1e6
    return first, last, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows, items or lines of each block")
    parser.add_argument("--runs", type=int, default=5)
    # Quotes and display maths are still rendered whole at every flush: quadratic, so not in the default set.
    parser.add_argument("--kinds", default="table,list,numbered,code,paragraph",
                        help="comma-separated, of: " + ", ".join(KINDS))
    args = parser.parse_args()
    table_text = ""
    print(f"{args.rows} rows / items / lines a block, {TOKEN} characters a token, {PER_FRAME} tokens a frame; "
          f"least of {args.runs} runs; CPU µs per token")
    print("| block | characters | first fifth | last fifth | last / first | whole block | / prose |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    rows = []
    for kind in args.kinds.split(","):
        opener, row = KINDS[kind]
        text = opener + "".join(row(i) for i in range(args.rows))
        if kind == "table":
            table_text = text
        rows.append((kind, text, measure(text, args.runs)))
    prose = prose_like(table_text or opener + "".join(row(i) for i in range(args.rows)))
    base = measure(prose, args.runs)
    for kind, text, (first, last, whole) in [*rows, ("prose (baseline)", prose, base)]:
        print(f"| {kind} | {len(text):,} | {first:.1f} | {last:.1f} | {last / first:.2f} | {whole:.1f} | "
              f"{whole / base[2]:.2f} |")


if __name__ == "__main__":
    main()
