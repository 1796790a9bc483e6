"""The reference every ratio is taken against: the plain FastHTML streaming pattern.

Each token is its own websocket message, `Span(token, id=..., hx_swap_oob="beforeend")`, sent the
moment the model yields it: no coalescing, no block rendering. When the answer ends the whole message
is rendered as markdown (the same `render_markdown`) and swapped in, as a chat must show it rendered.
The page uses the same stylesheet and htmx files, the same ids the harness looks for, and scrolls to
the bottom at most once per animation frame, like ours, so the comparison is about the stream itself.

It runs the same offline demo model through pydantic-ai (`run_stream`, text deltas as they come,
no debounce), so `/stream N at R` gives the same tokens at the same pace as in the app, and it
writes the same trace lines as `varro.chat.trace` when VARRO_TRACE_FILE is set.
Run: `python -m bench.baseline_app` with VARRO_HOST, VARRO_PORT, VARRO_TRACE_FILE.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import uvicorn
from fasthtml.common import Div, FastHTML, Form, Link, Main, NotStr, Script, Span, Textarea, Title, to_xml
from pydantic_ai import Agent
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ui.markdown import render_markdown
from varro.agent.demo import demo_model
from varro.chat.trace import TraceLog

STATIC = Path(__file__).resolve().parent.parent / "static"
agent = Agent(demo_model(60.0))

# Enter sends (and clears the input); scrolling follows the stream once per animation frame.
PAGE_JS = """
document.addEventListener('keydown', (e) => {
  if (e.target.id === 'chat-input' && e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); e.target.form.requestSubmit(); }
});
document.addEventListener('htmx:wsAfterSend', () => { document.getElementById('chat-input').value = ''; });
let queued = false;
document.addEventListener('htmx:wsAfterMessage', () => {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => { queued = false; const el = document.getElementById('chat-scroll'); el.scrollTop = el.scrollHeight; });
});
"""

app = FastHTML(default_hdrs=False, hdrs=(
    Link(rel="stylesheet", href="/chat/static/vendor/app.css"),
    Link(rel="stylesheet", href="/chat/static/vendor/pygments.css"),
    Script(src="/chat/static/vendor/htmx.min.js"), Script(src="/chat/static/vendor/ws.js"), Script(PAGE_JS)),
    secret_key="baseline")
app.router.routes.insert(0, Mount("/chat/static", StaticFiles(directory=STATIC)))
trace = TraceLog(Path(os.environ["VARRO_TRACE_FILE"])) if os.environ.get("VARRO_TRACE_FILE") else None


def Progress(running: bool) -> Any:
    return Div(id="progress", data_running="true" if running else "false", hx_swap_oob="true")


@app.route("/chat")
def page(run: int = 0) -> Any:
    return Title("Baseline"), Div(
        Main(Div(id="chat-turns", cls="flex flex-col gap-4 max-w-3xl mx-auto w-full p-3"),
             id="chat-scroll", cls="flex-1 overflow-y-auto overflow-x-hidden"),
        Div(id="progress", data_running="false"),
        Form(Textarea(id="chat-input", name="msg", rows="1", cls="textarea textarea-bordered flex-1"),
             ws_send=True, cls="flex gap-2 p-2"),
        id="chat", hx_ext="ws", ws_connect=f"/ws?run={run}", data_chat_id=str(run), cls="flex flex-col h-dvh")


class Sender:
    """Sends FT as a frame and, when tracing, writes the trace line `varro.chat.trace` would."""

    def __init__(self, send: Any, run: int) -> None:
        self.send, self.run, self.seq = send, run, 0

    async def __call__(self, ft: Any, kinds: list[str], made: float | None = None, render_s: float = 0.0) -> None:
        frame = to_xml(ft, indent=False)
        if trace is not None:
            trace.write({"c": self.run, "m": self.seq, "t": time.time(), "b": len(frame.encode()), "n": len(frame),
                         "r": round(render_s * 1000, 3), "k": kinds, "d": [] if made is None else [made]})
            if "TurnFinished" in kinds:
                trace.flush()
        self.seq += 1
        await self.send(frame)


turns: dict[int, int] = {}  # run -> turns so far


@app.ws("/ws")
async def ws(msg: str, run: int, send, ws) -> None:  # noqa: ANN001  FastHTML injects `send` and `ws` by name, unannotated
    out = ws.scope.setdefault("baseline_sender", Sender(send, run))
    k = turns[run] = turns.get(run, -1) + 1
    answer = f"assistant-{k}"
    shell = Div(Div(Div(msg, cls="chat-bubble chat-bubble-primary"), id=f"user-{k}", cls="chat chat-end"),
                Div(id=answer, cls="whitespace-pre-wrap break-words leading-relaxed"), id=f"turn-{k}")
    await out(Div(shell, id="chat-turns", hx_swap_oob="beforeend"), ["TurnStarted"])
    await out(Progress(True), ["ProgressChanged"])
    text = []
    async with agent.run_stream(msg) as result:
        async for token in result.stream_text(delta=True, debounce_by=None):
            text.append(token)
            await out(Span(token, id=answer, hx_swap_oob="beforeend"), [], made=time.time())
    started = time.perf_counter()
    final = Div(NotStr(render_markdown("".join(text))), id=answer, cls="prose max-w-none break-words",
                hx_swap_oob="true")
    await out(final, ["ResponseFinished"], render_s=time.perf_counter() - started)
    await out(Progress(False), ["ProgressChanged", "TurnFinished"])


if __name__ == "__main__":
    uvicorn.run(app, host=os.environ.get("VARRO_HOST", "127.0.0.1"), port=int(os.environ.get("VARRO_PORT", "5002")),
                log_level="warning")
