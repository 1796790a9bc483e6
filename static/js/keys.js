// The page's keys and the wide screens' sidebar, for the chat component (spread into Alpine.data("chat") by
// chat.js): Alt+R regenerates, ? lists the shortcuts, Esc closes the innermost open thing or stops the answer;
// the sidebar folds away (remembered) and its chats are reached with the arrows.

const SIDEBAR_KEY = "varro-sidebar";

window.varroKeys = {
  sidebarCollapsed: "false", // the wide screens' chat list, folded away (remembered in localStorage)

  initSidebar() {
    this.sidebarCollapsed = localStorage.getItem(SIDEBAR_KEY) === "collapsed" ? "true" : "false";
  },

  globalKey(e) {
    if (e.defaultPrevented) return;
    const typing = e.target.closest && e.target.closest("input, textarea, [contenteditable]");
    if (e.altKey && e.code === "KeyR") {
      const last = document.querySelector("#chat-turns > .turn.last-turn");
      if (last && last.querySelector("[data-action=regenerate]")) { e.preventDefault(); this.regenerate(last); }
    } else if (e.key === "?" && !typing && !document.querySelector("dialog[open]")) {
      e.preventDefault();
      this.showShortcuts();
    } else if (e.key === "Escape") {
      this.escape(e);
    }
  },

  /** Esc closes the innermost open thing (dialog, menu); with nothing open it stops a running answer. */
  escape(e) {
    if (document.querySelector("dialog[open]")) return; // the dialog closes itself
    const menu = document.activeElement?.closest(".dropdown");
    if (menu) { e.preventDefault(); this.closeMenu(); return; }
    if (this.running) this.$refs.stopForm.requestSubmit();
  },

  get sidebarOpen() { return this.sidebarCollapsed === "true" ? "false" : "true"; },

  /** Fold the sidebar away or back; the choice holds for every page. */
  toggleSidebar() {
    this.sidebarCollapsed = this.sidebarCollapsed === "true" ? "false" : "true";
    localStorage.setItem(SIDEBAR_KEY, this.sidebarCollapsed === "true" ? "collapsed" : "open");
  },

  /**
   * The sidebar names chats by their titles: redraw it when one changes, unless the user is renaming a chat there,
   * which the redraw would take away under their typing. Then the list is marked stale, and the rename's end redraws
   * it (a save's answer is the new list; Escape asks for it: the `rename` component).
   */
  refreshSidebar() {
    const list = document.getElementById("sidebar-list");
    if ([...(list?.querySelectorAll("form") ?? [])].some((form) => form.offsetParent !== null)) {
      list.dataset.stale = "true";
      return;
    }
    htmx.trigger(document.body, "sidebar-refresh");
  },

  /** Up and Down (Home, End) move between the sidebar's chats. */
  sidebarKey(e) {
    const moves = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };
    if (!(e.key in moves) || e.target.tagName === "INPUT") return;
    const links = [...document.querySelectorAll("#sidebar-list .sidebar-link")];
    const at = links.indexOf(e.target.closest("li")?.querySelector(".sidebar-link"));
    const next = Math.max(0, Math.min(links.length - 1, at < 0 ? 0 : at + Math.max(-links.length, Math.min(links.length, moves[e.key]))));
    e.preventDefault();
    links[next]?.focus();
  },
};
