"""A cell that prints 5 MB: its card keeps the head and the end (the summary a long run prints last), and "Download
full output" gives all of it, as the kernel saved it in the chat's folder."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import py, send, wait_turn_done

LINES = 100_000
PRINT = f"for i in range({LINES}):\n    print(f'line {{i:06d}} ' + 'x' * 40)\nprint('summary: done')"


def test_a_5_mb_print_shows_its_end_and_downloads_whole(new_chat: Page) -> None:
    page = new_chat
    send(page, py(PRINT))
    wait_turn_done(page, 0, timeout=120_000)
    card = page.locator("#assistant-0 .tool-result")
    expect(card).to_contain_text("line 000000")
    expect(card).to_contain_text("summary: done")  # the last line, after 5 MB
    expect(card).to_contain_text(f"line {LINES - 1:06d}")
    expect(card).not_to_contain_text(f"line {LINES // 2:06d}")  # the middle is in the file only
    expect(card).to_contain_text("all of the output is in the file .outputs/cell-")
    link = card.get_by_test_id("full-output")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    assert path is not None
    expected = "".join(f"line {i:06d} " + "x" * 40 + "\n" for i in range(LINES)) + "summary: done\n"
    assert len(expected) > 5_000_000
    assert path.read_text() == expected

    page.reload()  # the stored card offers it too
    expect(page.locator("#assistant-0 [data-testid=full-output]")).to_be_visible()
