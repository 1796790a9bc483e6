"""A DataFrame (or Series) a cell shows also goes out as a table the page can sort, filter and download: its first
rows as text, exactly as `to_csv` writes them (so the page's CSV is the frame's CSV), with which columns are numbers.

Bounded here, inside the kernel: at most `ROWS_CAP` rows and about `CHARS_CAP` characters; `total_rows` says how
many the frame had, so the page can say when it shows fewer.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from IPython.core.formatters import BaseFormatter
from traitlets import ObjectName, Unicode

TABLE_TYPE = "application/vnd.varro.table+json"
ROWS_CAP = 2_000
CHARS_CAP = 500_000


def _flat(name: Any) -> str:
    return " / ".join(str(n) for n in name) if isinstance(name, tuple) else str(name)


def table_of(frame: Any) -> dict[str, Any] | None:
    """The table form of a pandas DataFrame or Series; None for anything that can't be shown so."""
    import pandas as pd  # only ever called for pandas objects, so pandas is imported already

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else 0)
    total = len(frame)
    rows = ROWS_CAP
    while True:
        shown = frame.head(rows).copy()
        shown.columns = [_flat(c) for c in shown.columns]
        index = shown.index
        plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
        if not plain:  # an index that says something is a column of the table (and of its CSV)
            shown = shown.reset_index(allow_duplicates=True)
            shown.columns = [_flat(c) for c in shown.columns]
        lines = list(csv.reader(io.StringIO(shown.to_csv(index=False))))
        size = len(json.dumps(lines))
        if size <= CHARS_CAP or rows <= 1:
            break
        rows = max(1, rows * CHARS_CAP // size)  # fewer each time, as the sizes say
    numeric = [pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in shown.dtypes]
    if not lines:
        return None
    return {"columns": lines[0], "rows": lines[1:] if size <= CHARS_CAP else [], "numeric": numeric,
            "total_rows": total}


def _safe_table(obj: Any) -> dict[str, Any] | None:
    try:
        return table_of(obj)
    except Exception:  # a frame this can't flatten still shows as Jupyter shows it: its HTML and text
        return None


class TableFormatter(BaseFormatter):  # type: ignore[misc]
    format_type = Unicode(TABLE_TYPE)
    _return_type = dict
    print_method = ObjectName("_repr_varro_table_")


def install(shell: Any) -> None:
    formatter = TableFormatter(parent=shell.display_formatter)
    # pandas 3 names its classes' module "pandas"; earlier releases, where they are defined.
    for module, name in (("pandas", "DataFrame"), ("pandas", "Series"), ("pandas.core.frame", "DataFrame"),
                         ("pandas.core.series", "Series")):
        formatter.for_type_by_name(module, name, _safe_table)
    shell.display_formatter.formatters[TABLE_TYPE] = formatter
    shell.display_formatter.active_types = [*shell.display_formatter.active_types, TABLE_TYPE]
