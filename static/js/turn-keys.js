// The turn list as one tab stop (a roving tabindex): Tab enters the conversation once, on the control
// used last (at first the newest one), and the arrow keys, Home and End move between its controls.
// Kept apart from chat.js. The tabindex is set when Tab is pressed, not as the answer streams, so a
// streaming frame costs nothing here; an open message editor keeps its ordinary tab stops.

(() => {
  const LIST = "chat-turns";
  const CONTROLS = "button, a[href], summary, [tabindex]";
  const MOVES = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
  let current = null; // the control that holds the list's one tab stop

  /** The list's controls in page order: visible, enabled, outside an open editor. */
  function controls(list) {
    return [...list.querySelectorAll(CONTROLS)].filter((el) =>
      !el.disabled && !el.closest("form") && el.getClientRects().length > 0);
  }

  /** Give the list exactly one tab stop: the current control, or the newest one. */
  function rove(list) {
    const all = controls(list);
    if (!all.includes(current)) current = all[all.length - 1] ?? null;
    for (const el of all) el.tabIndex = el === current ? 0 : -1;
    return all;
  }

  function focus(el) {
    current = el;
    rove(el.closest(`#${LIST}`));
    el.focus();
  }

  document.addEventListener("keydown", (e) => {
    const list = document.getElementById(LIST);
    if (!list) return;
    if (e.key === "Tab") { rove(list); return; }
    const from = e.target;
    if (!(from instanceof Element) || !list.contains(from) || from.closest("form, textarea, input")) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const all = controls(list);
    const at = all.indexOf(from);
    if (at === -1) return;
    let to = null;
    if (e.key in MOVES) to = all[at + MOVES[e.key]];
    else if (e.key === "Home") to = all[0];
    else if (e.key === "End") to = all[all.length - 1];
    if (!to) return;
    e.preventDefault();
    focus(to);
  });

  // A click or programmatic focus on a control makes it the list's tab stop.
  document.addEventListener("focusin", (e) => {
    const list = document.getElementById(LIST);
    if (list && e.target instanceof Element && list.contains(e.target) && e.target.matches(CONTROLS)) {
      current = e.target;
    }
  });
})();
