"""What the browser tests watch in the page: dialogs, requests, CSP violations and the shape of the DOM.

`WATCH` runs before any page script (an init script): it records CSP violations and every element that
appears inside a turn's model output or user text with markup that could act. `CHECK_DOM` is evaluated
after a turn: it returns a list of problems (ids moved, duplicated or foreign; active markup), empty when fine.
"""

from __future__ import annotations

from ui import maths

# Tags our own blocks use inside an assistant area, plus the sanitizer's allow-list for markdown and the
# MathML one for typeset maths (ui/maths.py).
SAFE_TAGS = [
    "div", "span", "pre", "code", "details", "summary", "img",
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "em", "strong", "del",
    "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "br", *sorted(maths.TAGS),
]  # fmt: skip
SAFE_ATTRS = ["class", "id", "href", "rel", "target", "align", "start", "data-lang", "data-tool-call-id", "open",
              "role", "aria-hidden", "alt", "loading", "src", "hx-swap-oob", "data-testid", "data-decorated",
              *sorted(maths.ATTRS),
              # a running cell's box and its clock (ui/nodes.py LiveCell): set by the server, inert
              "data-started", "data-elapsed", "data-state"]
# Buttons the page itself puts into answers (ui/nodes.py, static/js/chat.js), with their icons.
OUR_ACTIONS = ["copy-code", "run-code", "edit-run", "copy-answer", "toggle-output"]
OUR_BUTTON_ATTRS = ["type", "class", "data-action", "aria-label"]

_JS_RULES = f"""
const SAFE_TAGS = new Set({SAFE_TAGS!r});
const SAFE_ATTRS = new Set({SAFE_ATTRS!r});
const OUR_ACTIONS = new Set({OUR_ACTIONS!r});
const OUR_BUTTON_ATTRS = new Set({OUR_BUTTON_ATTRS!r});
/** One of the page's own copy / show-more buttons (or its icon), which model markup can never be. */
function ourControl(el) {{
  const b = el.closest('button[data-action]');
  return b && OUR_ACTIONS.has(b.dataset.action) && [...b.attributes].every((a) => OUR_BUTTON_ATTRS.has(a.name));
}}
const OUR_ID = /^(?:turn|user|assistant|meta)-(\\d+)$|^(?:node|part|block|chunk|caret|open)-(\\d+)-\\d+(?:-\\d+)?(?:-\\d+)?$/;
/** Why `el` (inside model output or user text) could act, or null. */
function activeMarkup(el) {{
  if (ourControl(el)) return null;
  const tag = el.tagName.toLowerCase();
  if (!SAFE_TAGS.has(tag)) return `tag <${{tag}}>`;
  for (const a of el.attributes) {{
    if (!SAFE_ATTRS.has(a.name)) return `attribute ${{a.name}} on <${{tag}}>`;
    if (a.name === 'href' && !/^(https?:|mailto:)/i.test(a.value)) return `href ${{a.value}}`;
    if (a.name === 'src' && !(tag === 'img' && a.value.startsWith('/chat/uploads/'))) return `src ${{a.value}}`;
    if (a.name === 'id' && !OUR_ID.test(a.value)) return `id ${{a.value}}`;
  }}
  return null;
}}
/** Inside (not itself) a turn's model output or the user's text. */
function inHostileArea(el) {{
  return el.parentElement && el.parentElement.closest('.assistant, [data-testid^="user-text-"]');
}}
"""

WATCH = _JS_RULES + """
window.__violations = [];
window.__active = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ''}`);
});
new MutationObserver((records) => {
  for (const r of records) for (const node of r.addedNodes) {
    if (node.nodeType !== 1) continue;
    for (const el of [node, ...node.querySelectorAll('*')]) {
      if (!inHostileArea(el)) continue;
      const why = activeMarkup(el);
      if (why) window.__active.push(why + ': ' + el.outerHTML.slice(0, 120));
    }
  }
}).observe(document, {childList: true, subtree: true});
"""

CHECK_DOM = "(texts) => {" + _JS_RULES + """
const problems = [];
const seen = new Set();
for (const el of document.querySelectorAll('[id]')) {
  if (seen.has(el.id)) problems.push('duplicate id ' + el.id);
  seen.add(el.id);
}
const input = document.getElementById('chat-input');
if (!input || input.tagName !== 'TEXTAREA' || !input.closest('#chat-form') || !input.closest('footer'))
  problems.push('#chat-input is not the input bar textarea');
for (const id of ['chat', 'chat-turns', 'chat-scroll', 'progress', 'chat-form', 'chat-title', 'chat-notices'])
  if (!document.getElementById(id)) problems.push('missing #' + id);
const turns = document.getElementById('chat-turns');
[...turns.children].filter((t) => t.dataset.testid !== 'welcome').forEach((t, i) => {
  if (t.id !== `turn-${i}` || !t.classList.contains('turn')) problems.push('odd child of #chat-turns: ' + t.id);
});
for (const el of turns.querySelectorAll('[id]')) {
  const m = el.id.match(OUR_ID);
  if (!m) { problems.push('foreign id in the turns: ' + el.id); continue; }
  if (!el.closest(`#turn-${m[1] ?? m[2]}`)) problems.push('element out of its turn: ' + el.id);
}
for (const el of document.querySelectorAll('.assistant *, [data-testid^="user-text-"] *')) {
  const why = activeMarkup(el);
  if (why) problems.push(why);
}
texts.forEach((text, k) => {
  const shown = document.querySelector(`[data-testid="user-text-${k}"]`);
  if (!shown) problems.push(`no user text ${k}`);
  else {
    // The words as typed, in plain spans; a fenced block of code in them shows as code (our highlighted <pre>).
    // (blocks.js wraps a code block with its Copy button: div.code-wrap > div > button).
    const ours = [...shown.querySelectorAll('*')].every((el) =>
      el.matches('span, div.code-wrap, div.code-wrap > div, div.code-wrap > div > button[data-action=copy-code], ' +
                 'pre.user-code, pre.user-code *'));
    const fenced = /^[ \t]*(```|~~~)/m.test(text);
    if (!ours || (!fenced && shown.textContent !== text)) problems.push(`user text ${k} is not shown verbatim`);
  }
});
const title = document.querySelector('[data-testid="chat-title-text"]');
// The title's text sits in one plain span (for its ellipsis); anything else in the button is injected markup.
const label = title && title.firstElementChild;
if (title && (title.children.length !== 1 || !label.matches('span.title-text') || label.children.length)) {
  problems.push('markup in the title');
}
return problems;
}"""
