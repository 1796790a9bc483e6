// The chat page's Alpine component: the socket and the composer. It listens to htmx's websocket events, never
// patches htmx. Spread into it: turns.js (truncateAfter and the turns' own actions), follow.js (scrolling, the
// running state), blocks.js (copy, show more), keys.js (keys, the sidebar), files, charts, tables, earlier turns.
// The small components for inline editing and menus are widgets.js.
// Written for Alpine's CSP build: directives in the page name a property or method, nothing more.

// A socket that dropped is reopened quickly (htmx-ext-ws's default backs off to a minute): within about two
// seconds of the server coming back the page is live again. This sets the extension's documented option.
htmx.config.wsReconnectDelay = (retries) => Math.min(250 * 2 ** retries, 2000) * (0.75 + Math.random() / 4);

document.addEventListener("alpine:init", () => {
  // uvicorn closes a socket whose frame is over its size cap before the app can answer: say it here.
  const TOO_BIG = 1009;
  const REPLACED = 4001; // app/ws.py: a newer tab took the chat
  // app/refusals.py: closed for going past a budget (the user's frames, the address's frames, its sockets at once).
  // htmx-ext-ws does not reopen on these, and sends are refused here, so a refused tab never hammers the server.
  const OVER_LIMIT = [4429, 4430, 4431];
  // Close codes on which htmx-ext-ws reopens the socket (the server went away, or is restarting).
  const RECONNECTING = [1006, 1011, 1012, 1013];
  // What an edit took off the page before the server answered it (kept outside Alpine: DOM nodes must not be
  // made reactive), so that a refusal can put it back.
  let truncated = null;
  // The versions arrow last pressed, to give it focus back once the server has redrawn its turn.
  let switching = null;
  // A form sent before the page's socket first opened: it goes once the page has said hello. Sent earlier, htmx's
  // queue would deliver it after the hello, which an edit or a switch had already made from a truncated page (so the
  // server would send back the very turns it took off).
  let waiting = null;
  // Phones and tablets: Enter makes a new line (multi-line messages and code), the button sends.
  const TOUCH = matchMedia("(pointer: coarse)").matches;

  Alpine.data("chat", () => ({
    ...window.varroFiles,
    ...window.varroCharts,
    ...window.varroTables,
    ...window.varroEarlier,
    ...window.varroFollow,
    ...window.varroBlocks,
    ...window.varroKeys,
    ...window.varroTurns,
    running: false,
    opened: false, // the socket has opened once and the page said hello
    replaced: false,
    offline: false,
    shut: "", // why the server closed the socket for good (its close reason), when it went past a budget
    draft: "",

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
      this.onSettle = () => this.syncTitle();
      this.$el.addEventListener("htmx:afterSettle", this.onSettle);
      this.$el.addEventListener("htmx:wsOpen", this.onOpen);
      this.$el.addEventListener("htmx:wsClose", this.onClose);
      this.$el.addEventListener("htmx:wsConfigSend", this.onConfigSend);
      this.$el.addEventListener("htmx:wsAfterSend", this.onAfterSend);
      this.$el.addEventListener("htmx:wsAfterMessage", this.onAfterMessage);
      document.addEventListener("keydown", this.onKey);
      this.initSidebar();
      this.readProgress();
      this.decorate(this.$el);
      this.drawCharts();
      this.drawTables();
      this.markLastTurn();
      if (TOUCH) this.$refs.input.placeholder = "Message Varro…";
      this.initFollow();
      this.openAt(location.hash);
      this.initEarlier();
      // Shown where it stays (app.css), once Alpine has set up every turn below (x-show, editors) in this same task.
      requestAnimationFrame(() => {
        if (this.stick) this.scrollToBottom();
        delete document.getElementById("chat-turns").dataset.placing;
      });
      this.$refs.input.focus({ preventScroll: true });
    },

    destroy() {
      this.$el.removeEventListener("htmx:wsOpen", this.onOpen);
      this.$el.removeEventListener("htmx:wsClose", this.onClose);
      this.$el.removeEventListener("htmx:wsConfigSend", this.onConfigSend);
      this.$el.removeEventListener("htmx:wsAfterSend", this.onAfterSend);
      this.$el.removeEventListener("htmx:wsAfterMessage", this.onAfterMessage);
      document.removeEventListener("keydown", this.onKey);
      this.$el.removeEventListener("click", this.onClick);
      this.$el.removeEventListener("htmx:afterSettle", this.onSettle);
      this.destroyFollow();
      this.destroyEarlier();
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
      this.offline = false;
      // `running`: the page shows a run going on; if the server has none (it restarted), it says so and we unlock.
      e.detail.socketWrapper.send(JSON.stringify({ action: "hello", known, running: this.running }), this.$el);
      this.opened = true;
      if (waiting) {
        const form = waiting;
        waiting = null;
        form.requestSubmit();
      }
    },

    /** The socket closed: for a moment (say so: it is being reopened), or for good (too large, another tab). */
    closed(e) {
      if (RECONNECTING.includes(e.detail.event.code)) this.offline = true;
      if (e.detail.event.code === REPLACED) this.replaced = true;
      if (OVER_LIMIT.includes(e.detail.event.code)) this.shut = e.detail.event.reason || "too many messages";
      if (e.detail.event.code !== TOO_BIG) return;
      this.notify("That message was far too long to send, so the connection was closed. Reload the page to continue.");
      this.running = false;
    },

    /** An alert in the notice area above the input, with an optional link (text, href, test id). */
    notify(message, link) {
      const alert = document.createElement("div");
      alert.setAttribute("role", "alert");
      alert.className = "alert alert-error alert-soft text-sm";
      const text = document.createElement("span");
      text.textContent = message;
      alert.append(text);
      if (link) {
        const a = document.createElement("a");
        a.className = "btn btn-sm";
        a.textContent = link.text;
        a.href = link.href;
        a.dataset.testid = link.testid;
        alert.append(a);
      }
      document.getElementById("chat-notices").replaceChildren(alert);
    },

    /** Why a message can't go now, or null: another tab has the chat, a reply is running, or it is too long. */
    refusal(action, msg) {
      if (this.replaced) {
        return "This tab is not the live tab: a newer tab took over, so nothing was sent. Your text is kept.";
      }
      if (this.offline) return "Not connected (reconnecting…), so nothing was sent. Your text is kept: send it again in a moment.";
      if (this.shut) {
        return `The server closed this connection (${this.shut}), so nothing was sent. Your text is still here: ` +
          "copy it, then reload the page to continue.";
      }
      if (this.running && action === "edit") {
        return "A reply is still being written: stop it first (Esc or the stop button), or wait for it to finish.";
      }
      const limit = Number(this.$refs.input.dataset.maxChars);
      if (limit && msg.length > limit) {
        const over = msg.length - limit;
        return `That message is ${over.toLocaleString("en")} characters too long (${msg.length.toLocaleString("en")}; ` +
          `the limit is ${limit.toLocaleString("en")}). Shorten it and send again: your text is kept.`;
      }
      return null;
    },

    /** Before a frame leaves: refuse empty, overlapping or refused sends; an edit truncates the page at once. */
    configSend(e) {
      const p = e.detail.parameters;
      const action = p.action;
      if (!this.opened && !this.offline) {
        // The page is still connecting: the form waits for the socket (its text stays where it is meanwhile).
        e.preventDefault();
        waiting = e.detail.elt?.closest?.("form") ?? null;
        return;
      }
      if (action === "switch") {
        // A version of turn k and its branch: what follows turn k goes now and the server sends the branch (the
        // same rule as an edit); while an answer is written the page stays as it is.
        if (this.running) { e.preventDefault(); return; }
        truncated = this.truncateAfter(Number(p.turn));
        switching = { k: p.turn, testid: e.detail.elt?.querySelector("button")?.dataset.testid };
        return;
      }
      if (action === "run") {
        // The user's own cell ("Run", "Edit & run"): a turn of its own, refused like a message while one runs.
        const why = this.refusal("edit", String(p.code || ""));
        if (why || this.running) {
          e.preventDefault();
          this.notify(why || "A reply is still being written: stop it first, or wait for it to finish.");
          return;
        }
        this.running = true;
        this.stick = true;
        this.showJump = false;
        document.querySelectorAll(".run-editor").forEach((editor) => editor.remove());
        return;
      }
      if (action === "send" || action === "edit") {
        const msg = String(p.msg || "");
        const why = this.refusal(action, msg);
        if (why) {
          e.preventDefault();
          const takeBack = { text: "Use it here", href: location.href, testid: "take-back" };
          this.notify(why, this.replaced ? takeBack : null);
          return;
        }
        if (this.running || !msg.trim()) { e.preventDefault(); return; }
        truncated = action === "edit" ? this.truncateAfter(Number(p.turn)) : null;
        this.running = true;
        this.stick = true;
        this.showJump = false;
      }
    },

    /** The message is on its way: clear the input (only now, so a failed send keeps the draft). */
    afterSend(e) {
      const form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form") : null;
      if (form && form.id === "chat-form") {
        this.draft = this.$refs.input.value;
        this.$refs.input.value = "";
        this.clearChips();
        this.autosize();
      }
    },

    /** After each server frame: read the run state, and follow the stream once per animation frame. */
    afterMessage(e) {
      this.readProgress();
      // The server refused the message (too many answers running): give the user their text back.
      if (e.detail.message.includes("data-refused") && truncated) {
        this.untruncate(truncated); // a refused edit: its turns come back as they were, its text stays in the editor
        truncated = null;
      } else if (e.detail.message.includes("data-refused") && !this.$refs.input.value) {
        this.$refs.input.value = this.draft;
        this.autosize();
      }
      if (switching && e.detail.message.includes(`id="turn-${switching.k}"`)) {
        const again = document.querySelector(`[data-testid="${switching.testid}"]`) ||
          document.querySelector(`button[data-testid^="version-"][data-testid$="-${switching.k}"]`);
        again?.focus();
        switching = null;
        truncated = null;
        this.markLastTurn();
        this.drawCharts();
        this.decorate(document.getElementById("chat-turns"));
      }
      if (e.detail.message.includes('id="chat-title"')) {
        this.syncTitle();
        this.refreshSidebar(); // the sidebar names the chat by its new title (keys.js)
      }
      if (e.detail.message.includes("turn-meta")) this.markLastTurn();
      if (e.detail.message.includes('id="load-earlier"')) this.watchEarlier(); // a catch-up redrew the turns
      // Only frames with finished blocks need decorating; deltas are plain text.
      if (e.detail.message.includes("plotly-chart")) this.drawCharts();
      if (e.detail.message.includes("data-grid")) this.drawTables();
      if (e.detail.message.includes("code-block") || e.detail.message.includes("tool-result")) {
        this.decorate(document.getElementById("chat-turns"));
      }
      this.queueScroll();
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

    /** Enter sends (a new line on touch devices), Shift+Enter is a new line, Up in an empty input edits the last message. */
    onKeydown(e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !TOUCH) {
        e.preventDefault();
        if (!this.running) this.$refs.input.form.requestSubmit();
      } else if (e.key === "ArrowUp" && !this.$refs.input.value) {
        const edits = document.querySelectorAll('[data-testid^="edit-"]');
        if (edits.length && !this.running) { e.preventDefault(); edits[edits.length - 1].click(); }
      }
    },

    /** The browser tab's title follows the chat's (a rename, the automatic title). */
    syncTitle() {
      const title = document.querySelector('[data-testid="chat-title-text"]');
      if (title) document.title = `${title.textContent.trim()} · Varro`;
    },

    autosize() {
      const el = this.$refs.input;
      el.style.height = "auto";
      el.style.height = Math.min(el.scrollHeight, 192) + "px";
    },

    showShortcuts() { this.closeMenu(); this.$refs.shortcuts.showModal(); },

    focusInput() { this.$refs.input.focus(); },

    confirmDelete() { this.$refs.deleteDialog.showModal(); },

    showShare() { this.closeMenu(); this.$refs.shareDialog.showModal(); },

    /** The sidebar's Delete: the same confirmation, for the chat that entry names. */
    confirmDeleteOf(e) {
      this.$refs.deleteDialog.querySelector("form[method=post]").action = e.currentTarget.dataset.deleteUrl;
      this.$refs.deleteDialog.showModal();
    },

    /** DaisyUI dropdowns stay open while focused: a chosen action closes its menu. */
    closeMenu() { document.activeElement?.blur(); },
  }));
});
