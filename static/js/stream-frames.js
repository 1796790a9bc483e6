// The streaming fast path: most websocket frames of an answer only append characters to a live part
// (`<span id=… hx-swap-oob="beforeend">`) or replace the open block's provisional rendering
// (`<div id=… hx-swap-oob="innerHTML">`, ui/provisional.py), or grow it by its open piece: settled rows,
// items or lines inserted before the open one (`beforebegin`) and the open one set anew (ui/open_block.py);
// and the status line is replaced at each step of the answer (`hx-swap-oob="true"`).
// htmx would run its whole swap for each: parse,
// process every new element for hx- attributes, clean up every removed one, settle. That work is for
// markup htmx must wire up, and a streaming frame carries none (sanitized markdown has no hx- or Alpine
// attributes), so such a frame is applied here with two DOM calls and htmx's processing is skipped by
// cancelling `htmx:wsBeforeMessage` (the ws extension's documented hook). Any other frame, or one whose
// target is missing, goes to htmx as before. `htmx:wsAfterMessage` is then triggered as the extension
// would, so chat.js (scrolling, unlocking) and anything else listening sees every frame.
(() => {
  const SWAPS = new Set(["beforeend", "innerHTML", "beforebegin"]);
  // An attribute that asks htmx or Alpine to wire an element up: a frame with one goes through htmx. Tested
  // on the raw frame, so text that merely looks like one (escaped, in a paragraph) only costs the fast path.
  const WIRED = /\s(?:hx-(?!swap-oob=)|data-hx-|x-|ws-|sse-|@|:)/;
  const template = document.createElement("template");

  /** The frame's [target, swap, element] steps, or null when htmx must handle it. */
  function plan(message) {
    if (message.length > 65536 || WIRED.test(message)) return null;
    template.innerHTML = message;
    const steps = [];
    for (const el of template.content.children) {
      const swap = el.getAttribute("hx-swap-oob");
      const target = el.id && document.getElementById(el.id);
      // The status line (ui/layout.py `Progress`) is replaced whole at each step of every answer, the first just
      // before the model's first words: nothing in it is wired up, so it takes this path too.
      if (target && swap === "true" && el.id === "progress") {
        steps.push([target, "outerHTML", el]);
        continue;
      }
      if (!SWAPS.has(swap) || !target || el.attributes.length !== 2) return null;
      if (swap === "beforebegin" && !el.id.startsWith("open-")) return null; // new chunks: htmx settles them
      steps.push([target, swap, el]);
    }
    return steps.length ? steps : null;
  }

  /**
   * Make `target`'s children those of `fresh`, touching only what changed: a new rendering of the open
   * block mostly differs from the last one at its end, so the equal nodes before that stay, a text node
   * that only grew is extended, and the first differing element of the same shape is morphed in turn.
   */
  function morph(target, fresh) {
    const old = target.childNodes;
    const neu = fresh.childNodes;
    let i = 0;
    while (i < old.length && i < neu.length && old[i].isEqualNode(neu[i])) i++;
    if (i === old.length && i === neu.length) return;
    const a = old[i];
    const b = neu[i];
    if (i === old.length - 1 && i === neu.length - 1 && a.nodeType === b.nodeType) {
      if (a.nodeType === Node.TEXT_NODE && b.data.startsWith(a.data)) return a.appendData(b.data.slice(a.data.length));
      if (a.nodeType === Node.ELEMENT_NODE && a.tagName === b.tagName && sameAttributes(a, b)) return morph(a, b);
    }
    while (old.length > i) old[i].remove();
    target.append(...Array.from(neu).slice(i));
  }

  function sameAttributes(a, b) {
    if (a.attributes.length !== b.attributes.length) return false;
    for (const attr of a.attributes) if (b.getAttribute(attr.name) !== attr.value) return false;
    return true;
  }

  document.addEventListener("htmx:wsBeforeMessage", (e) => {
    const steps = plan(e.detail.message);
    if (!steps) return;
    e.preventDefault();
    for (const [target, swap, el] of steps) {
      if (swap === "innerHTML") morph(target, el);
      else if (swap === "outerHTML") {
        el.removeAttribute("hx-swap-oob"); // as htmx leaves it: the next frame finds the same element
        target.replaceWith(el);
      } else if (swap === "beforebegin") target.before(...el.childNodes);
      else target.append(...el.childNodes);
    }
    htmx.trigger(e.target, "htmx:wsAfterMessage", e.detail);
  });
})();
