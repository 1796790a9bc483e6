// Plotly charts for the chat component (spread into Alpine.data("chat") by chat.js). plotly.js (its strict build,
// from npm, served by the app) is loaded only when a chart is on the page. Its rules go into a same-origin
// stylesheet we link first, so it never injects a <style> element that the Content-Security-Policy would refuse.

// plotly.js 3.7 (pinned in package-lock.json) also injects maplibre's map styles at load unless an element with this
// id exists; a placeholder stands in for it (map traces lose their styling, nothing else uses them).
const MAPLIBRE_STYLE_ID = "ce8d464691048653ffe3a57c6c18ab566e8366f186677868cf724621a857b4fe";

window.varroCharts = {
  /** Draw every chart not drawn yet; load plotly.js the first time one is there. */
  async drawCharts() {
    const charts = [...document.querySelectorAll(".plotly-chart:not([data-drawn])")];
    if (!charts.length) return;
    charts.forEach((el) => { el.dataset.drawn = "pending"; });
    try {
      await this.loadPlotly();
    } catch (err) {
      charts.forEach((el) => { el.textContent = "The chart library could not be loaded."; });
      return;
    }
    for (const el of charts) {
      const spec = JSON.parse(el.dataset.spec);
      const config = { ...(spec.config || {}), responsive: true, displaylogo: false, displayModeBar: false };
      await window.Plotly.newPlot(el, spec.data || [], spec.layout || {}, config);
      el.dataset.drawn = "true";
    }
  },

  /** The stylesheet, then plotly.js, once for the page; resolves when `Plotly` is there. */
  loadPlotly() {
    if (!window.varroPlotlyLoading) {
      const src = this.$el.dataset.plotlySrc;
      const placeholder = document.createElement("meta");
      placeholder.id = MAPLIBRE_STYLE_ID;
      document.head.append(placeholder);
      window.varroPlotlyLoading = this.loadInto("link", {
        rel: "stylesheet",
        id: "plotly.js-style-global", // plotly.js adds its rules to this sheet (CSSOM), not to a <style> of its own
        href: src.replace(/vendor\/[^/]+$/, "css/plotly.css"),
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
