"""Canned content for the demo model: answers, plot scripts, tool-result comments and `/stream` filler.

Everything here is a pure function of its arguments (randomness comes from seeded `random.Random`), so
the demo answers the same message the same way every time and tests can compare runs.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterator

_FILLER = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:please\s+)?"
    r"(?:tell me about|tell me|explain|describe|show me|write|make|draw|plot|chart|graph|give me|"
    r"what(?:'s| is| are)|how (?:do|does|can|should) (?:i|we|you))?\s*",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"[#*>`~\[\]]+|(?<!\w)_+|_+(?!\w)")  # an underscore inside a name (x_1) stays
_OUTPUT_LIMIT = 1500


def variant(key: str, count: int) -> int:
    """A stable choice among `count` variants (crc32, because `hash()` is salted per process)."""
    return zlib.crc32(key.encode()) % count


def topic_of(text: str, max_words: int = 8) -> str:
    """A short, deterministic topic: the first prose line minus markup and question filler."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("```")]
    line = _MARKUP.sub("", lines[0]).strip() if lines else ""
    words = _FILLER.sub("", line, count=1).rstrip("?.!:; ").split()
    return " ".join(words[:max_words]) or "your message"


def history_sentence(turn: int, earlier_topic: str | None) -> str:
    """Mentions the conversation so far, so a reader (and a test) can see the history arrived."""
    if turn <= 1 or earlier_topic is None:
        return "This is the first message in our conversation."
    return f"This is message {turn} in our conversation; earlier you asked about *{earlier_topic}*."


_BULLETS = (
    (
        "**What it is:** a compact idea that is easier to grasp with a concrete example",
        "**Why it matters:** it shows up in everyday work more often than people expect",
        "**How to start:** pick one small case, try it, and look closely at what happens",
    ),
    (
        "**First principle:** name the inputs and the outputs before anything else",
        "**Common pitfall:** mixing two concerns in one step, which hides mistakes",
        "**Good habit:** write the smallest test that would convince a sceptical colleague",
    ),
    (
        "**Context:** most of the difficulty sits in the edges, not in the middle",
        "**Trade-off:** simple and slightly slow usually beats clever and fragile",
        "**Next step:** measure before tuning, then change one thing at a time",
    ),
)

_PARAGRAPHS = (
    "The **key point** is that you can explore this step by step. In Python, a function such as "
    "`summarize()` keeps the idea in one place, and you can call it again whenever the details change.",
    "A useful way to think about it is as a **pipeline**: data comes in, a few small functions such as "
    "`clean()` and `measure()` transform it, and the result is something you can print or plot.",
    "It helps to keep the **core loop** tiny. Store the state in a plain `dict`, update it in one "
    "function, and print it after each step so that every change is visible.",
)


def answer_markdown(topic: str, turn: int, earlier_topic: str | None) -> str:
    """The plain answer: heading, intro, bullets, a paragraph with bold and inline code, a python block."""
    pick = variant(topic, len(_BULLETS))
    bullets = "\n".join(f"- {b}" for b in _BULLETS[pick])
    return (
        f"## {topic[:1].upper()}{topic[1:]}\n\n"
        f"{history_sentence(turn, earlier_topic)} You asked about **{topic}**, so here is a short overview "
        "that you can build on. I am the offline demo model, so this answer is scripted, but it has the "
        "shape of a real one.\n\n"
        f"{bullets}\n\n"
        f"{_PARAGRAPHS[pick]}\n\n"
        "```python\n"
        "def summarize(topic: str, points: list[str]) -> str:\n"
        '    """Join the main points into one line."""\n'
        '    return f"{topic}: " + "; ".join(points)\n'
        "\n\n"
        f'print(summarize({topic!r}, ["definition", "motivation", "first step"]))\n'
        "```\n\n"
        "Send a fenced `python` block and I will run it, or ask for a plot to see the code tool at work."
    )


def table_markdown(topic: str) -> str:
    """An answer that is mostly a table ("... in a table")."""
    return (
        f"Side by side, in short ({topic}):\n\n"
        "| aspect | short answer | where to start |\n"
        "|---|---|---|\n"
        "| definition | what it is, in one line | a glossary |\n"
        "| motivation | why it matters | a worked example |\n"
        "| first step | the smallest useful thing to try | `print()` the data |\n\n"
        "Ask for any row in more detail."
    )


_STEPS = ("Name", "Gather", "Sketch", "Try", "Measure", "Compare", "Trim", "Check", "Write up", "Share", "Revisit",
          "Teach")


def steps_markdown(topic: str) -> str:
    """An answer in steps ("... step by step"): a loose numbered list whose steps hold sub-points, then a quote of
    paragraphs, as models like to write them."""
    steps = "".join(
        f"{i}. **{verb}** ({topic})\n    - what to look at in step {i}, in a line\n"
        f"    - and one thing to try: `step_{i}()`\n\n"
        for i, verb in enumerate(_STEPS, 1))
    note = ("> A note to keep in mind: each step builds on the one before it,\n> so take them in order.\n>\n"
            "> If a step goes wrong, go back *one* step, not to the start.\n>\n> And write down what you tried.\n\n")
    return f"Step by step ({topic}):\n\n{steps}{note}Ask about any step in more detail."


def maths_markdown(topic: str) -> str:
    """An answer with typeset maths ("... formula", "equation", "maths"), inline and displayed."""
    return (
        f"A formula to start from ({topic}): the mean of $n$ values is $\\bar{{x}} = \\frac{{1}}{{n}}\\sum_{{i=1}}^{{n}} x_i$, "
        "and the spread around it is\n\n"
        "$$\n\\sigma = \\sqrt{\\frac{1}{n}\\sum_{i=1}^{n} (x_i - \\bar{x})^2}\n$$\n\n"
        "The same in the other notation: \\(e^{i\\pi} + 1 = 0\\), and\n\n"
        "\\[\n\\int_0^1 x^2 \\, dx = \\frac{1}{3}\n\\]\n\n"
        "A price of $5 stays text."
    )


def title_text(topic: str) -> str:
    """A one-line chat title."""
    return f"{topic[:1].upper()}{topic[1:]}"


_PLOTS = {
    "bar": 'ax.bar(["a", "b", "c", "d", "e"], [3, 7, 2, 5, 4], color="tab:blue")',
    "hist": "ax.hist(np.random.default_rng(7).normal(size=500), bins=30, color='tab:blue')",
    "scatter": "x = np.random.default_rng(7).normal(size=(2, 120))\nax.scatter(x[0], x[1], s=12)",
    "line": 'x = np.linspace(0, 4 * np.pi, 300)\nax.plot(x, np.sin(x), label="sin(x)")\n'
    'ax.plot(x, np.cos(x), label="cos(x)")\nax.legend()',
}


def plot_code(message: str, topic: str) -> str:
    """A small matplotlib script; the kind of chart follows the words in the request."""
    lowered = message.lower()
    kind = next((k for k in ("bar", "hist", "scatter") if k in lowered), "line")
    return (
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n"
        "fig, ax = plt.subplots(figsize=(6, 3.5))\n"
        f"{_PLOTS[kind]}\n"
        f"ax.set_title({topic!r})\n"
        "plt.show()\n"
    )


def result_markdown(output: str, plotted: bool, tool: str = "run_python") -> str:
    """The second response of a tool turn: the output quoted in a text fence, then a comment on it."""
    shown = output.rstrip("\n")
    shown = shown if len(shown) <= _OUTPUT_LIMIT else shown[:_OUTPUT_LIMIT] + "\n… (output trimmed)"
    # A fence longer than any backtick run inside the output, so the quote can't be closed early.
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"Here is what `{tool}` returned:\n\n{fence}text\n{shown}\n{fence}\n\n{result_comment(output, plotted)}"


def result_comment(output: str, plotted: bool) -> str:
    """A sentence or two about a tool result: timeout, error, nothing printed, or success."""
    if re.search(r"timed?[ _-]?out|time limit", output, re.IGNORECASE):
        return "The run **timed out** before it finished. Try a smaller input or split the work into steps."
    if re.search(r"error|traceback|exception", output, re.IGNORECASE):
        return "The code raised an **error**, so it did not finish cleanly. The last lines above name the cause."
    if not output.strip():
        return "The code ran without printing anything; add a `print()` to see the values."
    lines = len(output.strip().splitlines())
    figure = " The figure it drew is shown with the result." if plotted else ""
    return f"The code ran cleanly and produced {lines} line{'s' if lines != 1 else ''} of output.{figure}"


# --- `/stream N`: endless, seeded markdown blocks -------------------------------------------------

_WORDS = (
    "token stream render chunk frame socket buffer client server browser model reply latency "
    "markdown parser layout scroll cursor message answer thread queue event update batch flush "
    "timer budget signal output input state value field list block fence heading line width "
    "quick quiet steady small large early late first last next every often rarely simply"
).split()
_NAMES = ("total", "count", "chunk", "delay", "width", "items", "rate", "score")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 14))]
    at = rng.randrange(len(words))
    words[at] = rng.choice((f"**{words[at]}**", f"`{words[at]}`", f"*{words[at]}*", words[at]))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))


def _bullets(rng: random.Random, numbered: bool) -> str:
    items = (" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 8))) for _ in range(rng.randint(3, 5)))
    return "\n".join(f"{i}. {t}" if numbered else f"- {t}" for i, t in enumerate(items, 1))


def _code(rng: random.Random) -> str:
    a, b = rng.sample(_NAMES, 2)
    n = rng.randint(3, 12)
    return (
        f"```python\n{a} = [{', '.join(str(rng.randint(1, 99)) for _ in range(n))}]\n"
        f'{b} = sum({a}) / len({a})\nprint(f"{b} = {{{b}:.2f}}")\n```'
    )


def _heading(rng: random.Random) -> str:
    return f"{'#' * rng.choice((2, 3))} {rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)}"


def markdown_blocks(seed: int) -> Iterator[str]:
    """An endless, lazily built sequence of markdown blocks, each ending with a blank line."""
    rng = random.Random(seed)
    makers = (_paragraph, _paragraph, lambda r: _bullets(r, False), lambda r: _bullets(r, True), _code, _heading)
    yield f"## Streaming {seed} tokens\n\n"
    while True:
        yield rng.choice(makers)(rng) + "\n\n"


def filler_tokens(count: int, seed: int) -> Iterator[str]:
    """Exactly `count` one-word tokens of prose, for topping up a stream to its exact length."""
    rng = random.Random(f"filler {seed}")  # not `seed`, or it would repeat the opening block's words
    for i in range(count):
        word = rng.choice(_WORDS)
        yield (word.capitalize() if i == 0 else " " + word) + ("." if i == count - 1 else "")
