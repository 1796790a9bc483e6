"""Files in the browser: attach by the button and by drag and drop, use them from code, keep them over a restart."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import py, send, wait_turn_done
from tests.e2e.server import Server, run_server
from tests.e2e.test_shell import open_new_chat, result_of

ENV = {"VARRO_DEMO_TPS": "2000", "VARRO_MAX_UPLOAD_MB": "2"}
ROWS = 10_000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def files_server(data: Path) -> Iterator[Server]:
    with run_server(data, **ENV) as srv:
        yield srv


def csv_text(rows: int, scale: int) -> str:
    return "id,amount\n" + "".join(f"{i},{i * scale}\n" for i in range(rows))


def attach_by_button(page: Page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("attach").click()
    chooser.value.set_files(str(path))


DROP = """([name, text]) => {
  const dt = new DataTransfer();
  dt.items.add(new File([text], name, {type: "text/csv"}));
  const target = document.getElementById("chat-turns");
  target.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
  target.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""


def test_files_attached_by_button_and_drop_are_read_by_code_and_survive_a_restart(
        page: Page, files_server: Server, data: Path, tmp_path: Path) -> None:
    open_new_chat(page, files_server)
    first = tmp_path / "sales.csv"
    first.write_text(csv_text(ROWS, 1))
    attach_by_button(page, first)
    page.evaluate(DROP, ["costs.csv", csv_text(ROWS, 2)])
    chips = page.get_by_test_id("file-chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).to_contain_text("sales.csv")
    expect(chips.nth(1)).to_contain_text("costs.csv")
    code = ("import pandas as pd\na, b = pd.read_csv('sales.csv'), pd.read_csv('costs.csv')\n"
            "print(len(a), len(b), int(b.amount.sum() // a.amount.sum()))\na.describe()")
    send(page, py(code))
    wait_turn_done(page, 0, timeout=90_000)
    assert f"{ROWS} {ROWS} 2" in result_of(page, 0)
    table = page.locator("#assistant-0 [data-testid=data-grid] table")  # describe() as a table, not text
    expect(table).to_be_visible()
    expect(table.locator("td", has_text="mean")).to_be_visible()  # its index, a column of the grid
    expect(table).to_contain_text("4999.5")  # the mean of 0..9999
    expect(chips).to_have_count(0)  # the chips went with the message ...
    expect(page.get_by_test_id("message-file")).to_have_count(2)  # ... and show under it
    chat_url = page.url

    page.goto("about:blank")
    with run_server(data, **ENV) as restarted:  # a second server on the same data: a restart
        page.goto(chat_url.replace(files_server.url, restarted.url))
        wait_socket(page)
        expect(page.get_by_test_id("message-file")).to_have_count(2)
        send(page, py("import pandas as pd\nprint(pd.read_csv('sales.csv').shape)"))
        wait_turn_done(page, 1, timeout=90_000)
        assert f"({ROWS}, 2)" in result_of(page, 1)


def test_a_refused_file_is_explained_and_a_chip_can_be_removed(page: Page, files_server: Server,
                                                               tmp_path: Path) -> None:
    open_new_chat(page, files_server)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 * 2**20))
    attach_by_button(page, big)
    expect(page.locator("#chat-notices")).to_contain_text("big.bin is too large")
    expect(page.get_by_test_id("file-chip")).to_have_count(0)
    page.evaluate(DROP, ["notes.csv", "a\n1\n"])
    page.evaluate(DROP, ["notes.csv", "a\n2\n"])
    chips = page.get_by_test_id("file-chip")
    expect(chips).to_have_count(2)
    # Renamed, not overwritten (the two uploads go at once: their chips come in the order their answers do).
    expect(page.locator('[data-testid=file-chip][data-name="notes (1).csv"]')).to_have_count(1)
    page.locator('[data-testid=file-chip][data-name="notes.csv"]').get_by_test_id("remove-file").click()
    expect(chips).to_have_count(1)
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("show-files").click()
    entries = page.get_by_test_id("files-entry")
    expect(entries).to_have_count(1)
    expect(entries).to_contain_text("notes (1).csv")


KERNEL_PYTHON = Path(__file__).resolve().parents[2] / ".venv-kernel" / "bin" / "python"


def test_a_written_workbook_downloads_and_opens_with_its_rows(page: Page, files_server: Server,
                                                              tmp_path: Path) -> None:
    open_new_chat(page, files_server)
    send(page, py("import pandas as pd\npd.DataFrame({'n': range(250)}).to_excel('out.xlsx', index=False)"))
    wait_turn_done(page, 0, timeout=90_000)
    link = page.locator("#assistant-0 [data-testid=files-out] a")
    expect(link).to_contain_text("out.xlsx")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "out.xlsx"
    saved = tmp_path / "got.xlsx"
    download.value.save_as(saved)
    # openpyxl lives in the kernel's environment (the data stack), not the server's.
    read = "import openpyxl, sys; ws = openpyxl.load_workbook(sys.argv[1]).active; print(ws.max_row, ws['A251'].value)"
    out = subprocess.run([str(KERNEL_PYTHON), "-c", read, str(saved)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["251", "249"]
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("show-files").click()
    expect(page.get_by_test_id("files-list")).to_contain_text("out.xlsx")


PASTE = """([name, text]) => {
  const dt = new DataTransfer();
  dt.items.add(new File([text], name, {type: "text/plain"}));
  const input = document.getElementById("chat-input");
  input.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true}));
}"""


def test_a_pasted_file_is_attached_and_read_by_code(page: Page, files_server: Server) -> None:
    open_new_chat(page, files_server)
    page.evaluate(PASTE, ["pasted.txt", "hello from the clipboard"])
    expect(page.get_by_test_id("file-chip")).to_contain_text("pasted.txt")
    send(page, py("print(open('pasted.txt').read())"))
    wait_turn_done(page, 0, timeout=90_000)
    assert "hello from the clipboard" in result_of(page, 0)


def test_an_attached_table_shows_its_first_rows_before_it_is_sent(page: Page, files_server: Server,
                                                                   tmp_path: Path) -> None:
    """A CSV and an .xlsx (written by the kernel's own openpyxl, as a user's workbook is) preview their first rows."""
    open_new_chat(page, files_server)
    sales = tmp_path / "sales.csv"
    sales.write_text(csv_text(ROWS, 3))
    book = tmp_path / "regions.xlsx"
    subprocess.run([".venv-kernel/bin/python", "-c", "import openpyxl, sys\nwb = openpyxl.Workbook()\n"
                    "wb.active.append(['region', 'units'])\nwb.active.append(['north', 12])\nwb.save(sys.argv[1])",
                    str(book)], check=True)
    attach_by_button(page, sales)
    attach_by_button(page, book)
    chips = page.get_by_test_id("file-chip")
    expect(chips).to_have_count(2)
    chips.filter(has_text="sales.csv").get_by_test_id("preview-file").click()
    preview = page.get_by_test_id("file-preview")
    expect(preview).to_contain_text("sales.csv")
    expect(preview.locator("th")).to_have_text(["id", "amount"])
    expect(preview.locator("tbody tr")).to_have_count(7)  # the header and seven rows of ten thousand
    expect(preview.locator("tbody tr").nth(2).locator("td")).to_have_text(["2", "6"])
    chips.filter(has_text="regions.xlsx").get_by_test_id("preview-file").click()
    expect(preview).to_contain_text("regions.xlsx")
    expect(preview.locator("th")).to_have_text(["region", "units"])
    expect(preview.locator("tbody td")).to_have_text(["north", "12"])
    send(page, "Which region sold most?")  # sent: the chips and the preview go with the message
    wait_turn_done(page, 0)
    expect(page.get_by_test_id("file-preview")).to_have_count(0)
