"""The first rows of an attached table (CSV, TSV or an Excel workbook's first sheet), for a preview in the page before
the user asks about it. Read in the web tier, unprivileged, from bytes the kernel host handed over; bounded in what it
reads and unpacks, and never evaluating anything (an .xlsx is a zip of XML: read with the standard library)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from xml.etree import ElementTree

ROWS, COLUMNS, CELL_CHARS = 8, 12, 60
HEAD_BYTES = 64 * 1024  # of a CSV: its first rows are in there
XLSX_BYTES = 20 * 2**20  # an .xlsx is read whole (a zip's directory is at its end); past this, no preview
XML_BYTES = 8 * 2**20  # of one part unpacked: a zip bomb stops here
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)")


class NoPreview(ValueError):
    """The file is not a table this can read; the message says why, for the page."""


def previewable(name: str) -> bool:
    return name.lower().endswith(TABLE_SUFFIXES)


def read_limit(name: str) -> int:
    """How many bytes of the file a preview needs."""
    return XLSX_BYTES + 1 if name.lower().endswith(".xlsx") else HEAD_BYTES


def rows_of(name: str, data: bytes) -> list[list[str]]:
    """At most ROWS rows of COLUMNS cells, each cut to CELL_CHARS: the header first, as the file has it."""
    lowered = name.lower()
    if lowered.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif lowered.endswith((".csv", ".tsv")):
        rows = _delimited_rows(data, "\t" if lowered.endswith(".tsv") else None)
    else:
        raise NoPreview("Only CSV, TSV and .xlsx files have a preview.")
    return [[_cut(c) for c in row[:COLUMNS]] for row in rows[:ROWS]]


def _cut(text: str) -> str:
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _delimited_rows(head: bytes, delimiter: str | None) -> list[list[str]]:
    text = head[:HEAD_BYTES].decode("utf-8-sig", errors="replace")
    if len(head) >= HEAD_BYTES:  # the last line may be cut in the middle
        text = text.rsplit("\n", 1)[0]
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        return [row for _, row in zip(range(ROWS), csv.reader(io.StringIO(text), delimiter=delimiter), strict=False)]
    except csv.Error as exc:
        raise NoPreview(f"This file could not be read as a table ({exc}).") from None


def _part(book: zipfile.ZipFile, name: str) -> bytes:
    info = book.getinfo(name)
    if info.file_size > XML_BYTES:
        raise NoPreview("This workbook's sheet is too large to preview.")
    with book.open(info) as part:
        return part.read(XML_BYTES + 1)[:XML_BYTES]


def _xlsx_rows(data: bytes) -> list[list[str]]:
    if len(data) > XLSX_BYTES:
        raise NoPreview("This workbook is too large to preview; ask the assistant to show its first rows.")
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        sheet = _first_sheet(book)
        shared = _shared_strings(book)
        rows: list[list[str]] = []
        for row in ElementTree.fromstring(_part(book, sheet)).iterfind("m:sheetData/m:row", _NS):
            cells: dict[int, str] = {}
            for cell in row.iterfind("m:c", _NS):
                column = _column(cell.get("r", ""), len(cells))
                if column < COLUMNS:
                    cells[column] = _value(cell, shared)
            rows.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
            if len(rows) >= ROWS:
                break
        return rows
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        if isinstance(exc, NoPreview):
            raise
        raise NoPreview("This file could not be read as an Excel workbook.") from None


def _first_sheet(book: zipfile.ZipFile) -> str:
    """The part of the workbook's first sheet, by the workbook's own order and relationships."""
    workbook = ElementTree.fromstring(_part(book, "xl/workbook.xml"))
    first = workbook.find("m:sheets/m:sheet", _NS)
    if first is None:
        raise NoPreview("This workbook has no sheets.")
    rel_id = first.get(f"{{{_NS['r']}}}id")
    rels = ElementTree.fromstring(_part(book, "xl/_rels/workbook.xml.rels"))
    for rel in rels.iterfind("rel:Relationship", _NS):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "").lstrip("/")
            return target if target.startswith("xl/") else f"xl/{target}"
    raise NoPreview("This workbook's first sheet could not be found.")


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    try:
        root = ElementTree.fromstring(_part(book, "xl/sharedStrings.xml"))
    except KeyError:
        return []
    return ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")) for si in root.iterfind("m:si", _NS)]


def _column(ref: str, fallback: int) -> int:
    match = _CELL_REF.fullmatch(ref)
    if match is None:
        return fallback
    n = 0
    for ch in match[1]:
        n = n * 26 + ord(ch) - ord("A") + 1
    return n - 1


def _value(cell: ElementTree.Element, shared: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{{{_NS['m']}}}t"))
    raw = cell.findtext("m:v", default="", namespaces=_NS)
    if kind == "s":
        index = int(raw) if raw.isdigit() else -1
        return shared[index] if 0 <= index < len(shared) else ""
    if kind == "b":
        return "TRUE" if raw == "1" else "FALSE"
    return raw
