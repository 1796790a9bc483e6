// A long chat's earlier turns, for the chat component (spread into Alpine.data("chat") by chat.js). The page
// shows the latest turns; the "Show earlier messages" button above them (ui/turns.py LoadEarlier) fetches the
// batch before with htmx, which puts it above the first turn and replaces the button with the next batch's.
// Here: load it when it scrolls into view, and keep what the reader was looking at where it was.

window.varroEarlier = {
  earlierFromEnd: null,

  /** Watch the button, and htmx's swaps of the batches it fetches. */
  initEarlier() {
    // Started a little before the button shows, so scrolling up rarely waits for a batch.
    this.earlierSeen = new IntersectionObserver((entries) => this.earlierInView(entries),
      { root: this.$refs.scroller, rootMargin: "400px 0px 0px 0px" });
    this.onEarlierSwap = (e) => this.beforeEarlier(e);
    this.onEarlierSwapped = (e) => this.afterEarlier(e);
    this.onHashChange = () => this.openEarlier(location.hash);
    this.$el.addEventListener("htmx:beforeSwap", this.onEarlierSwap);
    this.$el.addEventListener("htmx:afterSwap", this.onEarlierSwapped);
    window.addEventListener("hashchange", this.onHashChange);
    this.watchEarlier();
  },

  destroyEarlier() {
    this.earlierSeen.disconnect();
    this.$el.removeEventListener("htmx:beforeSwap", this.onEarlierSwap);
    this.$el.removeEventListener("htmx:afterSwap", this.onEarlierSwapped);
    window.removeEventListener("hashchange", this.onHashChange);
  },

  /** Observe the current button: each batch (and a catch-up that redraws the turns) brings a new one. */
  watchEarlier() {
    this.earlierSeen.disconnect();
    const button = document.getElementById("load-earlier");
    if (button && !button.hidden) this.earlierSeen.observe(button);
  },

  earlierInView(entries) {
    const button = document.getElementById("load-earlier");
    // Not a click: that would also end what a click ends (the mark on a search result's turn).
    if (button && !button.hidden && entries.some((e) => e.isIntersecting)) htmx.trigger(button, "earlier");
  },

  isEarlierSwap(e) {
    return e.detail.requestConfig?.elt?.id === "load-earlier";
  },

  /** A batch is about to go in above: remember how far the view is from the end, which the batch won't change. */
  beforeEarlier(e) {
    if (!this.isEarlierSwap(e)) return;
    const el = this.$refs.scroller;
    this.earlierFromEnd = el.scrollHeight - el.scrollTop;
    this.earlierHadFocus = document.activeElement?.id === "load-earlier";
  },

  /** The batch is in (htmx says so once for each of its elements): put the view back where it was. */
  afterEarlier(e) {
    if (!this.isEarlierSwap(e) || this.earlierFromEnd === null) return;
    const el = this.$refs.scroller;
    el.scrollTop = el.scrollHeight - this.earlierFromEnd;
    this.lastTop = el.scrollTop;
    this.earlierFromEnd = null;
    const list = document.getElementById("chat-turns");
    // htmx gives focus back to the new button; once turn 0 is in there is none, and focus goes to the first turn.
    if (this.earlierHadFocus && document.activeElement === document.body) {
      list.querySelector("button, a[href], summary")?.focus({ preventScroll: true });
    }
    // As after a socket frame: only a batch with code, tool output or a chart needs the whole list searched.
    const html = e.detail.xhr.responseText;
    if (html.includes("code-block") || html.includes("tool-result")) this.decorate(list);
    if (html.includes("plotly-chart")) this.drawCharts();
    if (html.includes("data-grid")) this.drawTables();
    this.watchEarlier();
  },

  /**
   * A link to a turn the page does not show yet (`#turn-k` above the first one, from an old link or a notice):
   * open the page from that turn. True when it does.
   */
  openEarlier(hash) {
    const k = /^#turn-(\d+)$/.exec(hash);
    const button = document.getElementById("load-earlier");
    const first = document.querySelector("#chat-turns > .turn");
    const url = new URL(location.href);
    // Never twice: a page opened at a turn that is not there (since deleted) stays as it is.
    if (!k || !button || button.hidden || !first || Number(k[1]) >= Number(first.dataset.turn) ||
        url.searchParams.get("at") === k[1]) return false;
    url.searchParams.set("at", k[1]);
    location.replace(url.href);
    return true;
  },
};
