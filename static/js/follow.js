// Following the stream, for the chat component (spread into Alpine.data("chat") by chat.js): the page stays at
// the end while an answer streams unless the reader scrolls up, scrolls at most once per frame, says whether an
// answer runs (#progress), and ticks the clock of a running cell.
//
// Only the reader stops the following. The page's own changes move the scroll position too, in ways no geometry
// tells apart from a reader's scroll: an answer's last swap can shrink the list (the top clamped up) and then grow it
// (the turn's footer) within one task, and the scroll event that reports it comes before the ResizeObserver that
// pins the end again. So a scroll up counts only while the reader is at the controls that scroll: a wheel, a
// touch, a scrolling key, the pointer held on the list (its scrollbar).

// Keys that scroll the list, or move the focus (and so the view) to another of its controls.
const SCROLL_KEYS = new Set(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", " ", "Tab"]);
const READER_MS = 1500; // how long after an input its scrolling is the reader's (a smooth or flung scroll ends within)

window.varroFollow = {
  showJump: false,
  stick: true,
  scrollQueued: false,
  lastTop: 0,
  lastDist: 0,
  readerUntil: 0,
  pointerHeld: false,

  /** Keep the end in view as the list grows, and start the cells' clock. */
  initFollow() {
    // Chunks out of view have an estimated height (content-visibility) that is corrected as they come into
    // view, and the page grows after load: while following, any change of the list's size re-pins the end.
    this.resizer = new ResizeObserver(() => { if (this.stick) this.scrollToBottom(); });
    this.resizer.observe(document.getElementById("chat-turns"));
    this.ticker = setInterval(() => this.tick(), 200);
    const scroller = this.$refs.scroller;
    this.onReader = () => { this.readerUntil = performance.now() + READER_MS; };
    this.onReading = () => { this.stick = false; }; // a message's editor opened (widgets.js): stay with it
    this.onPointerDown = () => { this.pointerHeld = true; this.onReader(); };
    this.onPointerUp = () => { if (this.pointerHeld) { this.pointerHeld = false; this.onReader(); } };
    this.onScrollKey = (e) => {
      // Tab scrolls even from the input (to the controls above it); the other keys there move its caret.
      const typing = e.key !== "Tab" && e.target.closest?.("input, textarea, select, [contenteditable]");
      if (SCROLL_KEYS.has(e.key) && !typing) this.onReader();
    };
    scroller.addEventListener("reading", this.onReading);
    scroller.addEventListener("touchstart", this.onReader, { passive: true });
    scroller.addEventListener("touchmove", this.onReader, { passive: true });
    scroller.addEventListener("pointerdown", this.onPointerDown);
    document.addEventListener("pointerup", this.onPointerUp);
    document.addEventListener("pointercancel", this.onPointerUp);
    document.addEventListener("keydown", this.onScrollKey);
  },

  destroyFollow() {
    this.resizer.disconnect();
    clearInterval(this.ticker);
    const scroller = this.$refs.scroller;
    scroller.removeEventListener("reading", this.onReading);
    scroller.removeEventListener("touchstart", this.onReader);
    scroller.removeEventListener("touchmove", this.onReader);
    scroller.removeEventListener("pointerdown", this.onPointerDown);
    document.removeEventListener("pointerup", this.onPointerUp);
    document.removeEventListener("pointercancel", this.onPointerUp);
    document.removeEventListener("keydown", this.onScrollKey);
  },

  /** Whether the reader is at a control that scrolls the list (see the top of this file). */
  readerScrolling() {
    return this.pointerHeld || performance.now() < this.readerUntil;
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
      // This chat's entry in the sidebar, drawn while the answer ran, stops saying that one is being written.
      document.querySelector('#sidebar-list [aria-current="page"] [data-testid^="running-"]')?.remove();
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
   * A reader's scroll decides whether we follow the stream: up means "let me read", back down to the end means
   * "follow". Up is the top moving up while the end moves away (a chunk shrinking to its real height also lowers
   * scrollTop, but leaves the end where it was), and only while the reader scrolls: the page's own changes of size
   * never stop the following. Reaching the end, by any means, starts it again.
   */
  onScroll() {
    const el = this.$refs.scroller;
    const top = el.scrollTop;
    const dist = el.scrollHeight - top - el.clientHeight;
    if (top + 2 < this.lastTop && dist > this.lastDist + 2 && this.readerScrolling()) this.stick = false;
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
    this.onReader();
    if (e.deltaY < 0) this.stick = false;
  },

  jumpToLatest() {
    // The reader chose to follow: what moves the list from here on is the page's doing, even within READER_MS of
    // their last scroll up (chunks passed over settling to their real height would otherwise stop the following).
    this.readerUntil = 0;
    this.pointerHeld = false;
    this.stick = true;
    this.scrollToBottom();
    this.$refs.input.focus({ preventScroll: true });
  },

};
