// Plotly charts for the chat component (spread into Alpine.data("chat") by chat.js). plotly.js (its strict build,
// from npm, served by the app) is loaded only when a chart comes near the visible part of the conversation: a page
// whose charts are further up never loads it. Its rules go into a same-origin stylesheet we link first, so it never
// injects a <style> element that the Content-Security-Policy would refuse. A chart's box has its final height
// before it is drawn (ui/outputs.py), so drawing it moves nothing.

/** How near the visible part a chart must come (above or below) to be drawn. */
const CHART_MARGIN = "600px 0px";

// plotly.js 3.7 (pinned in package-lock.json) also injects maplibre's map styles at load unless an element with this
// id exists; a placeholder stands in for it (map traces lose their styling, nothing else uses them).
const MAPLIBRE_STYLE_ID = "ce8d464691048653ffe3a57c6c18ab566e8366f186677868cf724621a857b4fe";

window.varroCharts = {
  /** Watch every chart not watched yet; each is drawn when it comes near the visible part of the conversation. */
  drawCharts() {
    const charts = [...document.querySelectorAll(".plotly-chart:not([data-drawn])")];
    if (!charts.length) return;
    const root = this.$el;
    this.chartWatcher ||= new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.chartWatcher.unobserve(entry.target);
        this.drawChart(root, entry.target);
      }
    }, { root: document.getElementById("chat-scroll"), rootMargin: CHART_MARGIN });
    charts.forEach((el) => {
      el.dataset.drawn = "pending";
      this.chartWatcher.observe(el);
    });
  },

  /** Draw one chart, loading plotly.js first if this is the page's first. */
  async drawChart(root, el) {
    try {
      await this.loadPlotly(root);
    } catch (err) {
      el.textContent = "The chart library could not be loaded.";
      return;
    }
    const spec = JSON.parse(el.dataset.spec);
    const height = spec.layout && spec.layout.height;
    if (Number.isFinite(height) && height > 0) el.style.height = `${height}px`; // a figure that sets its own size
    // Zoom, pan and "Download plot as a png" where there is a mouse; a phone's taps pan and show values instead.
    const coarse = matchMedia("(pointer: coarse)").matches;
    const config = { ...(spec.config || {}), responsive: true, displaylogo: false, displayModeBar: !coarse,
                     modeBarButtonsToRemove: ["select2d", "lasso2d"], toImageButtonOptions: { filename: "chart" } };
    await window.Plotly.newPlot(el, spec.data || [], this.fitLayout(spec.layout || {}, el), config);
    el.dataset.drawn = "true";
  },

  /** Draw each element matching `selector` that is not drawn yet (in page order, with its number among them), once
   * `load()` has brought its library; if that fails, `failed(el)` for each. Used for charts and tables alike. */
  async drawPending(selector, load, draw, failed) {
    const pending = [...document.querySelectorAll(`${selector}:not([data-drawn])`)];
    if (!pending.length) return;
    pending.forEach((el) => { el.dataset.drawn = "pending"; });
    try {
      await load();
    } catch (err) {
      pending.forEach((el) => { el.dataset.drawn = "failed"; failed(el); });
      return;
    }
    for (const [i, el] of pending.entries()) await draw(el, i);
  },

  /**
   * The figure's layout sized by its box, not by a desktop: no fixed width, and in a narrow box (a phone) small
   * margins and the legend below, or Plotly's 80 px margins and side legend leave the plot a quarter of the box.
   */
  fitLayout(layout, el) {
    const fitted = { ...layout, autosize: true };
    delete fitted.width;
    if (el.clientWidth < 600) {
      const titled = Boolean(layout.title && (layout.title.text || typeof layout.title === "string"));
      fitted.margin = { ...(layout.margin || {}), l: 44, r: 12, t: titled ? 40 : 16, b: 40, pad: 0 };
      fitted.legend = { orientation: "h", x: 0, y: -0.2, ...(layout.legend || {}) };
      if (fitted.title && typeof fitted.title === "object") fitted.title = { ...fitted.title, x: 0.02, xanchor: "left" };
    }
    return fitted;
  },

  /** The stylesheet, then plotly.js, once for the page; resolves when `Plotly` is there. */
  loadPlotly(root) {
    if (!window.varroPlotlyLoading) {
      const src = root.dataset.plotlySrc;
      const placeholder = document.createElement("meta");
      placeholder.id = MAPLIBRE_STYLE_ID;
      document.head.append(placeholder);
      window.varroPlotlyLoading = this.loadInto("link", {
        rel: "stylesheet",
        id: "plotly.js-style-global", // plotly.js adds its rules to this sheet (CSSOM), not to a <style> of its own
        href: root.dataset.plotlyCss,
      }).then(() => this.loadInto("script", { src }));
    }
    return window.varroPlotlyLoading;
  },

  /** Append a <link> or <script> to <head>; resolves when it has loaded. */
  loadInto(tag, attrs) {
    return new Promise((resolve, reject) => {
      const el = Object.assign(document.createElement(tag), attrs);
      el.onload = resolve;
      el.onerror = reject;
      document.head.append(el);
    });
  },
};
