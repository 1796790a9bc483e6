// Tables for the chat component (spread into Alpine.data("chat") by chat.js): a DataFrame a cell shows comes with its
// first rows as text, exactly as pandas' to_csv writes them (varro/kernels/sandbox/inside/tables.py). Grid.js (from npm, served
// by the app, loaded only when a table is on the page) shows them with sort, filter and scroll; "Download CSV" saves
// the same rows. Grid.js sets styles through the CSSOM only, which the Content-Security-Policy allows.

const ROWS_PER_PAGE = 50;

/** A number for sorting; NaN for an empty cell (a missing value), which sorts last. */
const asNumber = (text) => (text === "" ? NaN : Number(text));

/** Numeric order for a column of numbers written as text. */
function compareNumbers(a, b) {
  const x = asNumber(a);
  const y = asNumber(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) - Number.isNaN(y);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** One CSV field, quoted as Python's csv module (and so pandas) quotes it: only when it must be. */
const csvField = (text) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/** The table as CSV text: the header and every row the page holds. */
function tableCsv(spec) {
  const line = (row) => (row.length === 1 && row[0] === "" ? '""' : row.map(csvField).join(","));
  return [spec.columns, ...spec.rows].map(line).join("\n") + "\n";
}

window.varroTables = {
  /** Draw every table not drawn yet; load Grid.js the first time one is there (if it can't be, the frame's HTML
   * stays). */
  drawTables() {
    return this.drawPending(".data-grid", () => this.loadGrid(), (el, i) => this.drawTable(el, i), () => {});
  },

  /** Grid.js's stylesheet, then Grid.js, once for the page; resolves when `gridjs` is there. */
  loadGrid() {
    if (!window.varroGridLoading) {
      const src = this.$el.dataset.gridSrc;
      window.varroGridLoading = this.loadInto("link", { rel: "stylesheet", href: this.$el.dataset.gridCss })
        .then(() => this.loadInto("script", { src }));
    }
    return window.varroGridLoading;
  },

  /** Replace the frame's HTML in `el` with a grid of its rows, a note when they are fewer than the frame's, and the
   * CSV button. */
  drawTable(el, n) {
    const spec = JSON.parse(el.dataset.table);
    const bar = document.createElement("div");
    bar.className = "flex flex-wrap items-center gap-2 text-xs";
    const shown = spec.rows.length;
    const note = document.createElement("span");
    note.className = "opacity-70";
    note.dataset.testid = "grid-rows";
    note.textContent = shown < spec.total_rows
      ? `Showing the first ${shown.toLocaleString("en")} of ${spec.total_rows.toLocaleString("en")} rows (the CSV has these too).`
      : `${shown.toLocaleString("en")} row${shown === 1 ? "" : "s"}`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-ghost btn-xs";
    button.textContent = "Download CSV";
    button.dataset.testid = "grid-csv";
    button.addEventListener("click", () => this.downloadCsv(spec, `table-${n + 1}.csv`));
    bar.append(note, button);
    const box = document.createElement("div");
    el.replaceChildren(bar, box);
    const columns = spec.columns.map((name, i) => ({
      id: `c${i}`,
      name,
      sort: spec.numeric[i] ? { compare: compareNumbers } : true,
    }));
    const grid = new window.gridjs.Grid({
      columns,
      data: spec.rows,
      sort: true,
      search: true,
      fixedHeader: true,
      height: "min(24rem, 60vh)",
      pagination: spec.rows.length > ROWS_PER_PAGE ? { limit: ROWS_PER_PAGE, summary: true } : false,
      language: { search: { placeholder: "Filter rows…" } },
    });
    grid.on("ready", () => {
      // The rows scroll inside their box: keyboards reach it too.
      const wrapper = box.querySelector(".gridjs-wrapper");
      if (wrapper && !wrapper.hasAttribute("tabindex")) {
        wrapper.tabIndex = 0;
        wrapper.setAttribute("aria-label", "Table rows (scrolls)");
      }
    });
    grid.render(box);
    el.dataset.drawn = "true";
  },

  /** Save the table's rows as a CSV file. */
  downloadCsv(spec, name) {
    const url = URL.createObjectURL(new Blob([tableCsv(spec)], { type: "text/csv" }));
    const link = Object.assign(document.createElement("a"), { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};
