// Varro Chat's only own script: one Alpine component for the chat page, plus two small ones for
// inline editing. It listens to htmx's websocket events; it never patches htmx.
// Written for Alpine's CSP build: directives in the page name a property or method, nothing more.

document.addEventListener("alpine:init", () => {
  const NEAR_BOTTOM_PX = 48;
  // uvicorn closes a socket whose frame is over its size cap before the app can answer: say it here.
  const TOO_BIG = 1009;

  Alpine.data("chat", () => ({
    running: false,
    showJump: false,
    stick: true,
    scrollQueued: false,
    autoTop: 0,

    /** Listen to the socket: lock on send, follow the stream, unlock when the server says so. */
    init() {
      this.onConfigSend = (e) => this.configSend(e);
      this.onAfterSend = (e) => this.afterSend(e);
      this.onAfterMessage = (e) => this.afterMessage(e);
      this.onKey = (e) => this.globalKey(e);
      this.onClick = (e) => this.clicked(e);
      this.$el.addEventListener("click", this.onClick);
      this.onOpen = (e) => this.hello(e);
      this.onClose = (e) => this.closed(e);
      this.$el.addEventListener("htmx:wsOpen", this.onOpen);
      this.$el.addEventListener("htmx:wsClose", this.onClose);
      this.$el.addEventListener("htmx:wsConfigSend", this.onConfigSend);
      this.$el.addEventListener("htmx:wsAfterSend", this.onAfterSend);
      this.$el.addEventListener("htmx:wsAfterMessage", this.onAfterMessage);
      document.addEventListener("keydown", this.onKey);
      this.readProgress();
      this.decorate(this.$el);
      this.scrollToBottom();
    },

    destroy() {
      this.$el.removeEventListener("htmx:wsOpen", this.onOpen);
      this.$el.removeEventListener("htmx:wsClose", this.onClose);
      this.$el.removeEventListener("htmx:wsConfigSend", this.onConfigSend);
      this.$el.removeEventListener("htmx:wsAfterSend", this.onAfterSend);
      this.$el.removeEventListener("htmx:wsAfterMessage", this.onAfterMessage);
      document.removeEventListener("keydown", this.onKey);
      this.$el.removeEventListener("click", this.onClick);
    },

    get idle() { return !this.running; },
    /** `aria-busy` of the turn list: screen readers wait for the finished turn instead of every token. */
    get busy() { return this.running ? "true" : "false"; },

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
      document.querySelectorAll("#chat-turns > .shell-reset").forEach((marker) => {
        if (Number(marker.dataset.beforeTurn) >= known) marker.remove();
      });
      e.detail.socketWrapper.send(JSON.stringify({ action: "hello", known }), this.$el);
    },

    /** The socket closed for good because a message was too large: tell the user and unlock the input. */
    closed(e) {
      if (e.detail.event.code !== TOO_BIG) return;
      const alert = document.createElement("div");
      alert.setAttribute("role", "alert");
      alert.className = "alert alert-error alert-soft text-sm";
      alert.textContent = "That message was far too long to send, so the connection was closed. Reload the page to continue.";
      document.getElementById("chat-notices").replaceChildren(alert);
      this.running = false;
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
    afterMessage(e) {
      this.readProgress();
      // Only frames with finished blocks need decorating; deltas are plain text.
      if (e.detail.message.includes("code-block") || e.detail.message.includes("tool-result")) {
        this.decorate(document.getElementById("chat-turns"));
      }
      this.queueScroll();
    },

    /** Give code blocks a Copy button and long outputs a "Show more", once each. */
    decorate(root) {
      root.querySelectorAll("pre.code-block:not([data-decorated])").forEach((pre) => {
        pre.dataset.decorated = "1";
        const wrap = document.createElement("div");
        wrap.className = "code-wrap relative";
        pre.replaceWith(wrap);
        wrap.append(pre, this.button("Copy", "copy-code", "Copy code", "btn btn-xs absolute top-1 right-1 opacity-80"));
      });
      root.querySelectorAll(".tool-result pre:not([data-decorated])").forEach((pre) => {
        pre.dataset.decorated = "1";
        if (pre.scrollHeight > 320) {
          pre.classList.add("collapsed");
          pre.after(this.button("Show more", "toggle-output", "Show the whole output", "btn btn-xs btn-ghost self-start"));
        }
      });
    },

    button(text, action, label, cls) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.textContent = text;
      b.dataset.action = action;
      b.setAttribute("aria-label", label);
      return b;
    },

    /** One listener for the page's small buttons: copy code, copy an answer, show more. */
    clicked(e) {
      const b = e.target.closest("button[data-action]");
      if (!b) return;
      if (b.dataset.action === "copy-code") {
        this.copy(b.parentElement.querySelector("pre").innerText, b);
      } else if (b.dataset.action === "copy-answer") {
        const node = b.closest(".node");
        const text = [...node.querySelectorAll(".assistant-text")].map((t) => t.innerText).join("\n\n");
        this.copy(text, b);
      } else if (b.dataset.action === "toggle-output") {
        const pre = b.previousElementSibling;
        const collapsed = pre.classList.toggle("collapsed");
        b.textContent = collapsed ? "Show more" : "Show less";
      }
    },

    copy(text, button) {
      navigator.clipboard.writeText(text).then(() => {
        const was = button.textContent;
        button.textContent = "Copied";
        setTimeout(() => { button.textContent = was; }, 1200);
      });
    },

    /** Light or dark, remembered; without a choice the system setting applies. */
    toggleTheme() {
      const root = document.documentElement;
      const current = root.getAttribute("data-theme") ||
        (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
      const next = current === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("varro-theme", next); } catch (err) { /* private mode: not remembered */ }
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
      this.autoTop = el.scrollTop; // where we put it: a scroll event at or below this is ours, not the user's
    },

    /** A user scroll decides whether we follow the stream: up means "let me read", back down means "follow". */
    onScroll() {
      const el = this.$refs.scroller;
      if (el.scrollTop + 2 < this.autoTop) this.stick = false;
      if (el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX) this.stick = true;
      this.autoTop = Math.min(this.autoTop, el.scrollTop);
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
      document.querySelectorAll("#chat-turns > .turn, #chat-turns > .shell-reset").forEach((el) => {
        if (Number(el.dataset.turn ?? el.dataset.beforeTurn) > k) el.remove();
      });
      const answer = document.getElementById(`assistant-${k}`);
      if (answer) answer.replaceChildren();
      const meta = document.getElementById(`meta-${k}`);
      if (meta) { meta.replaceChildren(); meta.removeAttribute("data-status"); }
    },

    confirmDelete() { this.$refs.deleteDialog.showModal(); },

    /** DaisyUI dropdowns stay open while focused: a chosen action closes its menu. */
    closeMenu() { document.activeElement?.blur(); },
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
