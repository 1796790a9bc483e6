"""Code you run yourself: "Run" on a Python block of an answer and "Edit & run" on a cell each make a cell of the
chat (a turn of its own, stored, in the shell's state), and the model reads it next turn as the user's own."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import converse, send, wait_turn_done


def output_of(page: Page, k: int) -> str:
    return page.locator(f"#assistant-{k} .tool-result pre").last.inner_text().strip()


def test_run_an_answers_code_then_edit_and_run_its_cell(new_chat: Page, tmp_path: Path) -> None:
    page = new_chat
    converse(page, "Tell me about rivers")  # the demo answer ends with a Python block defining summarize()
    block = page.locator("#assistant-0 .assistant-text .code-wrap").last
    expect(block.locator("pre")).to_contain_text("def summarize")
    expect(page.locator("#assistant-0 [data-action=edit-run]")).to_have_count(0)  # no cell ran in that answer
    block.locator("[data-action=run-code]").click()
    wait_turn_done(page, 1)
    expect(page.get_by_test_id("user-text-1")).to_contain_text("def summarize")
    assert output_of(page, 1) == "rivers: definition; motivation; first step"
    expect(page.locator("#meta-1")).to_contain_text("Run by you")

    page.locator("#assistant-1 [data-action=edit-run]").click()
    box = page.get_by_test_id("edit-run-code")
    expect(box).to_be_focused()
    box.fill('print(summarize("lakes", ["still water"]))')  # summarize() is in the shell: the run above defined it
    page.get_by_test_id("edit-run-go").click()
    wait_turn_done(page, 2)
    assert output_of(page, 2) == "lakes: still water"
    expect(page.get_by_test_id("edit-run-code")).to_have_count(0)

    send(page, "What do you make of that?")
    wait_turn_done(page, 3)
    # The demo model names the user's earlier message: the run reached it as the user's own words.
    expect(page.locator("#assistant-3")).to_contain_text("I ran this code in the chat")

    page.reload()  # stored: the same turns after a reload
    expect(page.locator("#meta-2")).to_contain_text("Run by you")
    assert output_of(page, 2) == "lakes: still water"
    page.get_by_test_id("more-menu").click()
    with page.expect_download() as nb:
        page.get_by_test_id("export-ipynb").click()
    cells = json.loads(Path(nb.value.path()).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert 'print(summarize("lakes", ["still water"]))' in code, "the user's own cells are in the notebook"
