// Varro Chat's only own script: one Alpine component for the chat page, plus two small ones for
// inline editing. It listens to htmx's websocket events; it never patches htmx.
// Written for Alpine's CSP build: directives in the page name a property or method, nothing more.

document.addEventListener("alpine:init", () => {
  const NEAR_BOTTOM_PX = 48;

  Alpine.data("chat", () => ({
    running: false,
    showJump: false,
    stick: true,
    scrollQueued: false,

    /** Listen to the socket: lock on send, follow the stream, unlock when the server says so. */
    init() {
      this.onConfigSend = (e) => this.configSend(e);
      this.onAfterSend = (e) => this.afterSend(e);
      this.onAfterMessage = () => this.afterMessage();
      this.onKey = (e) => this.globalKey(e);
      this.onOpen = (e) => this.hello(e);
      this.$el.addEventListener("htmx:wsOpen", this.onOpen);
      this.$el.addEventListener("htmx:wsConfigSend", this.onConfigSend);
      this.$el.addEventListener("htmx:wsAfterSend", this.onAfterSend);
      this.$el.addEventListener("htmx:wsAfterMessage", this.onAfterMessage);
      document.addEventListener("keydown", this.onKey);
      this.readProgress();
      this.scrollToBottom();
    },

    destroy() {
      this.$el.removeEventListener("htmx:wsOpen", this.onOpen);
      this.$el.removeEventListener("htmx:wsConfigSend", this.onConfigSend);
      this.$el.removeEventListener("htmx:wsAfterSend", this.onAfterSend);
      this.$el.removeEventListener("htmx:wsAfterMessage", this.onAfterMessage);
      document.removeEventListener("keydown", this.onKey);
    },

    get idle() { return !this.running; },

    /**
     * The socket (re)opened: drop any half-streamed turn and tell the server which finished turns
     * the page shows; it sends what is missing (stored turns, the running turn so far), then goes live.
     */
    hello(e) {
      let known = 0;
      document.querySelectorAll("#chat-turns > .turn").forEach((turn) => {
        const k = Number(turn.dataset.turn);
        if (document.querySelector(`#meta-${k}[data-status]`)) known = Math.max(known, k + 1);
        else turn.remove();
      });
      e.detail.socketWrapper.send(JSON.stringify({ action: "hello", known }), this.$el);
    },

    /** Before a frame leaves: refuse empty or overlapping sends; an edit truncates the page at once. */
    configSend(e) {
      const p = e.detail.parameters;
      const action = p.action;
      if (action === "send" || action === "edit") {
        if (this.running || !String(p.msg || "").trim()) { e.preventDefault(); return; }
        if (action === "edit") this.truncateAfter(Number(p.turn));
        this.running = true;
        this.stick = true;
        this.showJump = false;
      }
    },

    /** The message is on its way: clear the input (only now, so a failed send keeps the draft). */
    afterSend(e) {
      const form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form") : null;
      if (form && form.id === "chat-form") {
        this.$refs.input.value = "";
        this.autosize();
      }
    },

    /** After each server frame: read the run state, and follow the stream once per animation frame. */
    afterMessage() {
      this.readProgress();
      this.queueScroll();
    },

    readProgress() {
      const progress = document.getElementById("progress");
      const wasRunning = this.running;
      this.running = progress ? progress.dataset.running === "true" : false;
      if (wasRunning && !this.running) this.$refs.input.focus();
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

    scrollToBottom() {
      const el = this.$refs.scroller;
      el.scrollTop = el.scrollHeight;
    },

    /** A user scroll decides whether we follow the stream. */
    onScroll() {
      const el = this.$refs.scroller;
      this.stick = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
      if (this.stick) this.showJump = false;
    },

    jumpToLatest() {
      this.stick = true;
      this.showJump = false;
      this.scrollToBottom();
    },

    /** Enter sends, Shift+Enter is a new line, Up in an empty input edits the last message. */
    onKeydown(e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (!this.running) this.$refs.input.form.requestSubmit();
      } else if (e.key === "ArrowUp" && !this.$refs.input.value) {
        const edits = document.querySelectorAll('[data-testid^="edit-"]');
        if (edits.length && !this.running) { e.preventDefault(); edits[edits.length - 1].click(); }
      }
    },

    /** Esc anywhere stops a running answer. */
    globalKey(e) {
      if (e.key === "Escape" && this.running && !e.defaultPrevented) this.$refs.stopForm.requestSubmit();
    },

    autosize() {
      const el = this.$refs.input;
      el.style.height = "auto";
      el.style.height = Math.min(el.scrollHeight, 192) + "px";
    },

    /** Remove every turn after k and clear turn k's answer: the page as it will be after an edit. */
    truncateAfter(k) {
      document.querySelectorAll("#chat-turns > .turn").forEach((turn) => {
        if (Number(turn.dataset.turn) > k) turn.remove();
      });
      const answer = document.getElementById(`assistant-${k}`);
      if (answer) answer.replaceChildren();
      const meta = document.getElementById(`meta-${k}`);
      if (meta) { meta.replaceChildren(); meta.removeAttribute("data-status"); }
    },

    confirmDelete() { this.$refs.deleteDialog.showModal(); },
  }));

  Alpine.data("editable", () => ({
    editing: false,
    get notEditing() { return !this.editing; },
    /** Open the inline editor with the message's text. */
    start() {
      this.editing = true;
      this.$nextTick(() => { this.$refs.editor.focus(); this.$refs.editor.select(); });
    },
    cancel() { this.editing = false; },
  }));

  Alpine.data("rename", () => ({
    renaming: false,
    get notRenaming() { return !this.renaming; },
    startRename() {
      this.renaming = true;
      this.$nextTick(() => { this.$refs.titleInput.focus(); this.$refs.titleInput.select(); });
    },
    cancelRename() { this.renaming = false; },
  }));
});
