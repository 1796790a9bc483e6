// The turns on the page as an edit, a refusal or a switch of versions changes them (spread into the chat component,
// chat.js): `truncateAfter(k)`, the seeds' rule that everything after turn k goes before the server redraws it,
// and its undoing when the server refuses.

window.varroTurns = {
  /** An edit of turn k: its answer and every later turn go at once. Returns what went, for `untruncate`. */
  truncateAfter(k) {
    const later = [...document.querySelectorAll("#chat-turns > .turn, #chat-turns > .shell-reset")]
      .filter((el) => Number(el.dataset.turn ?? el.dataset.beforeTurn) > k);
    const answer = document.getElementById(`assistant-${k}`);
    const meta = document.getElementById(`meta-${k}`);
    const went = { k, later, answer: [...(answer?.childNodes ?? [])], meta: [...(meta?.childNodes ?? [])],
      status: meta?.dataset.status };
    later.forEach((el) => el.remove());
    if (answer) answer.replaceChildren();
    if (meta) { meta.replaceChildren(); meta.removeAttribute("data-status"); }
    return went;
  },

  /** The server refused the edit (too many answers running, or turns a minute): show turn k and after as before. */
  untruncate(went) {
    document.getElementById(`assistant-${went.k}`)?.replaceChildren(...went.answer);
    const meta = document.getElementById(`meta-${went.k}`);
    if (meta) {
      meta.replaceChildren(...went.meta);
      if (went.status) meta.dataset.status = went.status;
    }
    document.getElementById(`turn-${went.k}`)?.after(...went.later);
    this.markLastTurn();
  },

  /** Mark the last turn: its Regenerate button shows (CSS). */
  markLastTurn() {
    const turns = document.querySelectorAll("#chat-turns > .turn");
    turns.forEach((t, i) => t.classList.toggle("last-turn", i === turns.length - 1));
  },

  /** Regenerate a turn's answer: an edit of it with the message's own text. */
  regenerate(turn) {
    const form = turn.querySelector("form[data-turn]");
    const editor = form.querySelector("textarea");
    editor.value = editor.defaultValue;
    form.requestSubmit();
  },
};
