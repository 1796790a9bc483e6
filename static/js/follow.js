// Following the stream, for the chat component (spread into Alpine.data("chat") by chat.js): the page stays at
// the end while an answer streams unless the reader scrolls up, scrolls at most once per frame, says whether an
// answer runs (#progress), and ticks the clock of a running cell.

window.varroFollow = {
  showJump: false,
  stick: true,
  scrollQueued: false,
  lastTop: 0,
  lastDist: 0,

  /** Keep the end in view as the list grows, and start the cells' clock. */
  initFollow() {
    // Chunks out of view have an estimated height (content-visibility) that is corrected as they come into
    // view, and the page grows after load: while following, any change of the list's size re-pins the end.
    this.resizer = new ResizeObserver(() => { if (this.stick) this.scrollToBottom(); });
    this.resizer.observe(document.getElementById("chat-turns"));
    this.ticker = setInterval(() => this.tick(), 200);
  },

  destroyFollow() {
    this.resizer.disconnect();
    clearInterval(this.ticker);
  },

  /** The elapsed time on a running cell; it stops where it was when the answer ends. */
  tick() {
    if (!this.running) return;
    document.querySelectorAll(".live-cell[data-started]").forEach((cell) => {
      const seconds = Math.max(0, Date.now() - Number(cell.dataset.started)) / 1000;
      cell.querySelector("[data-elapsed]").textContent = `${seconds.toFixed(1)} s`;
    });
  },

  readProgress() {
    const progress = document.getElementById("progress");
    const wasRunning = this.running;
    this.running = progress ? progress.dataset.running === "true" : false;
    if (wasRunning && !this.running) {
      this.$refs.input.focus();
      // A cell still live when the answer ended was stopped: its clock and output stay, its label says so.
      document.querySelectorAll(".live-cell [data-state=running]").forEach((label) => {
        label.textContent = "Stopped";
        label.classList.remove("animate-pulse");
      });
    }
  },

  /** Scroll at most once per frame, and only if the user has not scrolled up to read. */
  queueScroll() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      if (this.stick) this.scrollToBottom();
      else this.showJump = true;
    });
  },

  /** Open at the end, or at the turn a search result pointed to (`#turn-k`), marked until the next click. */
  openAt(hash) {
    const target = /^#turn-\d+$/.test(hash) ? document.querySelector(hash) : null;
    if (!target && this.openEarlier(hash)) return;
    if (!target) { this.scrollToBottom(); return; }
    this.stick = false;
    target.scrollIntoView({ block: "start" });
    target.classList.add("search-target");
    document.addEventListener("click", () => target.classList.remove("search-target"), { once: true });
  },

  scrollToBottom() {
    const el = this.$refs.scroller;
    el.scrollTop = el.scrollHeight;
    this.lastTop = el.scrollTop;
    this.lastDist = 0;
  },

  /**
   * A user scroll decides whether we follow the stream: up means "let me read", back down means "follow".
   * Up is the top moving up while the end moves away: a chunk shrinking to its real height also lowers
   * scrollTop (clamped, or anchored), but leaves the end where it was, and must not stop the following.
   */
  onScroll() {
    const el = this.$refs.scroller;
    const top = el.scrollTop;
    const dist = el.scrollHeight - top - el.clientHeight;
    if (top + 2 < this.lastTop && dist > this.lastDist + 2) this.stick = false;
    // Jump to latest stays until the end is reached, not merely until a scroll goes down.
    if (dist < 48 /* px: near enough to the end */) { this.stick = true; this.showJump = false; }
    this.lastTop = top;
    this.lastDist = dist;
  },

  /**
   * A wheel turned up says "let me read" before the scroll it starts has happened: stop following at once. A
   * frame that lands first would otherwise pin the end again and cancel the wheel's (smooth) scrolling.
   */
  onWheel(e) {
    if (e.deltaY < 0) this.stick = false;
  },

  jumpToLatest() {
    this.stick = true;
    this.scrollToBottom();
    this.$refs.input.focus({ preventScroll: true });
  },

};
