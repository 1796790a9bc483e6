"""A chat of 50 turns with what makes a page heavy: a markdown table, a DataFrame, a matplotlib figure and a Plotly
chart, written straight into a running server's database (tests/longchat.py). The figure, the DataFrame and the chart
are made by the kernel's own environment (.venv-kernel), as a cell would make them."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from tests.longchat import LONG_AGO, question, short_answer
from varro.chat.content import Attachment, build_content
from varro.images import image_size

ROOT = Path(__file__).resolve().parents[2]
KERNEL_PYTHON = ROOT / ".venv-kernel" / "bin" / "python"

MAKE_OUTPUTS = """
import base64, io, json
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.express as px
rng = np.random.default_rng(7)
fig, ax = plt.subplots()
ax.hist(rng.normal(size=1000), bins=30)
ax.set_title("1,000 random numbers")
png = io.BytesIO()
fig.savefig(png, format="png")
df = pd.DataFrame({"river": ["Danube", "Rhine", "Elbe", "Loire"], "km": [2850, 1233, 1094, 1006]})
chart = px.line(x=list(range(30)), y=rng.normal(size=30).cumsum(), title="A random walk")
print(json.dumps({"png": base64.b64encode(png.getvalue()).decode(), "table": df.to_html(),
                  "chart": json.loads(chart.to_json())}))
"""

TABLE = ("Here is the comparison:\n\n| | Rivers | Lakes |\n|---|---|---|\n| Water | flowing | still |\n"
         "| Size | long | wide |\n| Example | Danube | Geneva |\n")


def kernel_outputs() -> dict[str, Any]:
    """A matplotlib PNG, a DataFrame's HTML and a Plotly figure's JSON, made by the kernel's Python."""
    done = subprocess.run([str(KERNEL_PYTHON), "-c", MAKE_OUTPUTS], capture_output=True, text=True, check=True,
                          timeout=120, env={"MPLCONFIGDIR": str(ROOT / ".venv-kernel" / "mplconfig")})
    return json.loads(done.stdout)


def tool_turn(k: int, code: str, meta: dict[str, Any], answer: str,
              images: list[Attachment] = ()) -> tuple[str, dict[str, Any]]:  # type: ignore[assignment]
    call = ToolCallPart("run_python", {"code": code}, tool_call_id=f"call-{k}")
    ret = ToolReturnPart("run_python", "[output shown to the user]", tool_call_id=f"call-{k}", metadata=meta)
    messages = [ModelRequest(parts=[UserPromptPart(question(k))]), ModelResponse(parts=[call]),
                ModelRequest(parts=[ret]), ModelResponse(parts=[TextPart(answer)])]
    attachments = {f"call-{k}": list(images)} if images else {}
    return question(k), build_content(question(k), datetime.now(UTC), messages, attachments, {"model": "demo"})


def text_turn(k: int, answer: str) -> tuple[str, dict[str, Any]]:
    messages = [ModelRequest(parts=[UserPromptPart(question(k))]), ModelResponse(parts=[TextPart(answer)])]
    return question(k), build_content(question(k), datetime.now(UTC), messages, {}, {"model": "demo"})


def cell_meta(**kw: Any) -> dict[str, Any]:
    return {"stdout": "", "stderr": "", "result": None, "error": None, "images": [], "html": [], "timed_out": False,
            "truncated": False, "kernel_restarted": False, "timeout": None, "duration": 0.4, "files": [],
            "result_html": False, "charts": [], **kw}


def write_heavy_chat(db: Path, uploads: Path, owner: int, turns: int = 50, chart_at: int = 40, sized: bool = True) -> int:
    """A chat of `turns` turns: the Plotly chart at turn `chart_at`, and in the last three the DataFrame, the figure
    and the markdown table; the others short answers with a list. Returns its id. `sized=False`: the figure's record
    without its pixel size, as code before it was stored wrote it (and reads it)."""
    made = kernel_outputs()
    png = base64.b64decode(made["png"])
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        cur = conn.execute("INSERT INTO chat (user_id, title, shell_resets, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                           (owner, "Rivers, lakes and a random walk", "[]", LONG_AGO, LONG_AGO))
        chat_id = cur.lastrowid
        assert chat_id is not None
        rel = f"{owner}/{chat_id}/{hashlib.sha256(png).hexdigest()}.png"
        (uploads / rel).parent.mkdir(parents=True, exist_ok=True)
        (uploads / rel).write_bytes(png)
        width, height = (image_size(png) or (None, None)) if sized else (None, None)
        figure = Attachment(path=rel, media_type="image/png", width=width, height=height)
        special = {
            chart_at: tool_turn(chart_at, "px.line(...).show()", cell_meta(charts=[json.dumps(made["chart"])]),
                                "The chart above is a random walk."),
            turns - 3: tool_turn(turns - 3, "df", cell_meta(html=[made["table"]], result_html=True,
                                                             result="river km"), "Four rivers, longest first."),
            turns - 2: tool_turn(turns - 2, "plt.hist(...)", cell_meta(images=[{"media_type": "image/png"}]),
                                 "A histogram of 1,000 random numbers.", [figure]),
            turns - 1: text_turn(turns - 1, TABLE),
        }
        rows = []
        for k in range(turns):
            user_text, content = special.get(k) or text_turn(k, short_answer(k))
            rows.append((chat_id, k, user_text, json.dumps(content), "complete", datetime.now(UTC).isoformat(" ")))
        conn.executemany("INSERT INTO turn (chat_id, idx, user_text, content, status, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.commit()
        return chat_id
