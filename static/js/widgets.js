// Small Alpine components of the chat page: a message's inline editor, the chats menu, the title's rename in place.
// Written for Alpine's CSP build, like chat.js: directives in the page name a property or method, nothing more.

document.addEventListener("alpine:init", () => {
  Alpine.data("editable", () => ({
    editing: false,
    get notEditing() { return !this.editing; },
    /** Open the inline editor with the message's text (saving keeps this version: the page shows "‹ i/n ›"). */
    start() {
      this.editing = true;
      // The reader is at this message now: an answer streaming below must not take the editor out of view.
      this.$el.dispatchEvent(new CustomEvent("reading", { bubbles: true }));
      this.$nextTick(() => { this.$refs.editor.focus(); this.$refs.editor.select(); });
    },
    /** Close the editor and give focus back to the Edit button, where the user left off. */
    cancel() {
      this.editing = false;
      this.$nextTick(() => this.$refs.editButton.focus());
    },
  }));

  Alpine.data("chatMenu", () => ({
    open: false,
    get expanded() { return this.open ? "true" : "false"; },
    /** The button opens or closes the menu (htmx fetches a fresh list on each click); open, the search has focus. */
    toggle() {
      this.open = !this.open;
      if (this.open) {
        this.$refs.search.value = "";
        this.$nextTick(() => this.$refs.search.focus());
      }
    },
    /** Close, and give focus back to the button when it was in the menu. */
    close() {
      if (!this.open) return;
      this.open = false;
      if (this.$root.contains(document.activeElement)) this.$refs.menuButton.focus();
    },
    items() { return [...this.$root.querySelectorAll('[role="menuitem"]')]; },
    /** Arrows, Home and End move through the chats; Esc and Tab close the menu. */
    menuKey(e) {
      if (!this.open) return;
      const items = this.items();
      const at = items.indexOf(document.activeElement);
      const keys = at < 0 ? { ArrowDown: 0, ArrowUp: items.length - 1 } // in the search box Home/End move the caret
        : { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 };
      const to = keys[e.key];
      if (to !== undefined && items.length) {
        e.preventDefault();
        items[(to + items.length) % items.length].focus();
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      } else if (e.key === "Tab") {
        this.open = false;
      }
    },
  }));

  Alpine.data("rename", () => ({
    renaming: false,
    get notRenaming() { return !this.renaming; },
    startRename() {
      this.renaming = true;
      this.$nextTick(() => { this.$refs.titleInput.focus(); this.$refs.titleInput.select(); });
    },
    cancelRename() {
      this.renaming = false;
      this.$nextTick(() => this.$refs.titleButton.focus());
      const list = this.$el.closest("#sidebar-list");
      if (list?.dataset.stale) { // a title changed meanwhile (keys.js): redraw, and keep the focus on this chat's entry
        const rename = `[data-testid="${this.$refs.titleButton.dataset.testid}"]`;
        const done = () => {
          document.body.removeEventListener("htmx:afterSettle", refocus);
          document.body.removeEventListener("htmx:afterRequest", failed);
        };
        const refocus = (e) => {
          if (e.target.id !== "sidebar-list") return;
          done();
          document.querySelector(rename)?.focus();
        };
        // A redraw that fails swaps nothing: forget the focus, or a later redraw would take it from wherever it is.
        const failed = (e) => { if (e.target.id === "sidebar-list" && !e.detail.successful) done(); };
        document.body.addEventListener("htmx:afterSettle", refocus);
        document.body.addEventListener("htmx:afterRequest", failed);
        htmx.trigger(document.body, "sidebar-refresh");
      }
    },
    /**
     * The automatic title arrives while the user is on the title (renaming, or back on it by Escape): change its
     * words in place, so that neither the open form nor the focus is swapped away under them.
     */
    takeTitle(e) {
      if (!this.renaming && !this.$el.contains(document.activeElement)) return;
      const fresh = e.detail.fragment.querySelector('[data-testid="chat-title-text"]');
      if (!fresh) return;
      e.detail.shouldSwap = false;
      this.$refs.titleButton.replaceChildren(...fresh.childNodes);
      this.$refs.titleButton.setAttribute("aria-label", fresh.getAttribute("aria-label"));
    },
  }));
});
