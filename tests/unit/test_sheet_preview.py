"""The first rows of an attached table: CSV and TSV as written, an .xlsx's first sheet from its XML, bounded, and a
clear sentence for what can't be read."""

from __future__ import annotations

import io
import zipfile

import pytest

from varro.sheet_preview import COLUMNS, ROWS, XML_BYTES, NoPreview, rows_of

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def workbook(sheet_xml: str, shared: list[str], sheet_path: str = "worksheets/data.xml") -> bytes:
    """A minimal .xlsx whose first sheet (by the workbook's relationships, not by name) is `sheet_xml`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
                                      f'<sheet name="Sales" sheetId="1" r:id="rId7"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId7" Type="{REL}/worksheet" Target="{sheet_path}"/></Relationships>')
        z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{s}</t></si>" for s in shared)
                   + "</sst>")
        z.writestr(f"xl/{sheet_path}", f'<worksheet xmlns="{MAIN}"><sheetData>{sheet_xml}</sheetData></worksheet>')
    return out.getvalue()


def test_csv_and_tsv_show_their_first_rows_as_written() -> None:
    csv = b"\xef\xbb\xbfregion,units,price\nnorth,3,\"1,50\"\nsouth,7,2.25\n"
    assert rows_of("sales.csv", csv) == [["region", "units", "price"], ["north", "3", "1,50"], ["south", "7", "2.25"]]
    assert rows_of("semi.CSV", b"a;b\n1;2\n") == [["a", "b"], ["1", "2"]]  # the delimiter is sniffed
    assert rows_of("t.tsv", b"a\tb\n1\t2\n") == [["a", "b"], ["1", "2"]]
    many = "\n".join(",".join(f"c{r}{c}" for c in range(30)) for r in range(100)).encode()
    rows = rows_of("wide.csv", many)
    assert len(rows) == ROWS and all(len(r) == COLUMNS for r in rows)
    assert rows_of("long.csv", b"x\n" + b"y" * 500 + b"\n")[1][0].endswith("…")


def test_an_xlsx_shows_its_first_sheet_with_shared_strings_numbers_and_gaps() -> None:
    sheet = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="inlineStr">'
             '<is><t>ok</t></is></c></row>'
             '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="C2"><v>4.5</v></c></row>'
             '<row r="3"><c r="B3" t="b"><v>1</v></c></row>')
    data = workbook(sheet, ["region", "units", "north"])
    assert rows_of("book.xlsx", data) == [["region", "units", "ok"], ["north", "", "4.5"], ["", "TRUE"]]


@pytest.mark.parametrize(("name", "data", "why"), [
    ("notes.txt", b"hello", "Only CSV, TSV and .xlsx"),
    ("fake.xlsx", b"not a zip at all", "could not be read as an Excel workbook"),
    ("bomb.xlsx", None, "too large to preview"),
])
def test_what_cannot_be_previewed_says_why(name: str, data: bytes | None, why: str) -> None:
    if data is None:  # a sheet that unpacks past the bound: refused before it is read
        data = workbook("<row/>" * (XML_BYTES // 6 + 10), [])
    with pytest.raises(NoPreview, match=why):
        rows_of(name, data)
