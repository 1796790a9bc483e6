"""An exported notebook runs again in Jupyter (nbclient, as `jupyter nbconvert --execute` does) against the kernel's own
environment, and its deterministic cells print what the chat stored; a cell that failed in the chat is tagged so a
re-run goes on past it, and the packages its code imports are named with the kernel's versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from varro.chat.content import build_content
from varro.config import Settings
from varro.db.models import Turn
from varro.export import to_markdown, to_notebook
from varro.kernels.sandbox.isolation import kernel_python
from varro.packages import environment

# (code, what the chat stored for it): stdout, the value's text, an error; a cell stopped or timed out by the chat.
CELLS: list[tuple[str, dict[str, Any]]] = [
    ('import pandas as pd\nimport seaborn as sns\ndf = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.5, 6.0]})\n'
     'print(df["y"].sum())', {"stdout": "15.5\n"}),
    ('df["missing"]', {"error": "KeyError: 'missing'\nTraceback (most recent call last)"}),
    ("df.shape", {"result": "(3, 2)"}),
    ('for i in range(3):\n    print(i)', {"stdout": "0\n1\n2\n", "stopped": True}),
    ('print(int(df["x"].sum()))', {"stdout": "6\n", "timed_out": True, "timeout": 30.0,
                                    "error": "KeyboardInterrupt: \nTraceback"}),
    ("import matplotlib.pyplot as plt\nplt.plot([1, 2])", {"stdout": "", "images": [{"media_type": "image/png"}]}),
]


def seeded_turn() -> Turn:
    messages: list[Any] = [ModelRequest(parts=[UserPromptPart("look at the frame")])]
    for i, (code, stored) in enumerate(CELLS):
        messages.append(ModelResponse(parts=[ToolCallPart("run_python", {"code": code}, f"c{i}")]))
        model_text = "[image/png output shown to the user]" if stored.get("images") else "[stdout]\n" + stored.get(
            "stdout", "")
        messages.append(ModelRequest(parts=[ToolReturnPart("run_python", model_text, f"c{i}", metadata=stored)]))
    messages.append(ModelResponse(parts=[TextPart("The sum is 15.5.")]))
    content = build_content("look at the frame", datetime.now(UTC), messages, {}, {"model": "demo"})
    return Turn(chat_id=1, idx=0, user_text="look at the frame", content=content, status="complete")


def kernel_manager(python: Path, folder: Path) -> AsyncKernelManager:
    """A kernel of the kernel's own environment (.venv-kernel), as a kernel spec Jupyter would list."""
    spec = folder / "kernels" / "varro"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Varro", "language": "python"}))
    return AsyncKernelManager(kernel_name="varro", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder / "kernels")]))


def text_of(outputs: list[Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for out in outputs:
        if out.output_type == "stream":
            found[out.name] = found.get(out.name, "") + out.text
        elif out.output_type == "execute_result":
            found["result"] = out.data["text/plain"]
        elif out.output_type == "error":
            found["error"] = out.ename
    return found


def test_exported_notebook_reruns_in_the_kernels_environment_and_reproduces_its_outputs(tmp_path: Path) -> None:
    python = kernel_python(Settings())
    nb = nbformat.reads(to_notebook("Frame", [seeded_turn()], lambda a: None, environment=environment(python)),
                        as_version=4)
    nbformat.validate(nb)
    versions = environment(python)[0]
    assert nb.metadata.varro.packages == {"pandas": versions["pandas"], "seaborn": versions["seaborn"],
                                          "matplotlib": versions["matplotlib"]}
    first = nb.cells[1]
    assert first.cell_type == "code" and f"# %pip install pandas=={versions['pandas']} seaborn==" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"][1:]
    assert [c.execution_count for c in code] == [1, 2, 3, 4, 5, 6]
    assert [c.metadata.get("tags", []) for c in code] == [
        [], ["raises-exception"], [], ["stopped"], ["raises-exception", "timed-out"], []]
    assert code[2].outputs[-1].execution_count == 3
    stored = [text_of(c.outputs) for c in code]

    # Without --allow-errors: only the chat's own failures (tagged) may fail, and the re-run goes on past them.
    NotebookClient(nb, km=kernel_manager(python, tmp_path), timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    rerun = [text_of(c.outputs) for c in code]
    assert rerun[:3] == stored[:3] == [{"stdout": "15.5\n"}, {"error": "KeyError"}, {"result": "(3, 2)"}]
    assert rerun[3] == stored[3]  # the stopped loop, run to its end this time, printed what the chat kept
    assert rerun[4] == {"stdout": "6\n"}  # the cell that timed out in the chat finishes here
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in code[5].outputs)


def test_markdown_export_has_no_placeholders_and_marks_unfinished_cells() -> None:
    md = to_markdown("Frame", [seeded_turn()], lambda a: None)
    assert "shown to the user" not in md
    assert "```text\n15.5\n```" in md and "*(stopped while it ran)*" in md
    assert "*(interrupted: it ran past its time limit)*" in md
