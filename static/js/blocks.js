// The finished blocks' small buttons, for the chat component (spread into Alpine.data("chat") by chat.js): Copy on
// code blocks and answers, "Show more" on long outputs, and the one click listener the page's small buttons share.

window.varroBlocks = {
  /**
   * Give code blocks a Copy button (and a Python block in an answer "Run", a cell "Edit & run") and long outputs a
   * "Show more", once each. A block still streaming (.live-code) gets its buttons when it is finished.
   */
  decorate(root) {
    root.querySelectorAll("pre.code-block:not([data-decorated])").forEach((pre) => {
      pre.dataset.decorated = "1";
      const lang = (pre.dataset.lang || "").toLowerCase();
      const runnable = pre.closest(".assistant-text") && ["python", "py"].includes(lang);  // asked before it moves
      const cell = pre.closest(".tool-call[data-tool-call-id]");
      const wrap = document.createElement("div");
      wrap.className = "code-wrap relative";
      pre.replaceWith(wrap);
      const buttons = document.createElement("div");
      buttons.className = "code-actions absolute top-1 right-1 flex gap-1";
      buttons.append(this.button("Copy", "copy-code", "Copy code", "btn btn-xs opacity-80"));
      if (runnable) {
        buttons.append(this.button("Run", "run-code", "Run this code in the shell", "btn btn-xs btn-primary opacity-90"));
      } else if (cell) {
        buttons.append(this.button("Edit & run", "edit-run", "Edit & run this code", "btn btn-xs opacity-80"));
      }
      wrap.append(pre, buttons);
    });
    root.querySelectorAll(".tool-result pre:not([data-decorated])").forEach((pre) => {
      pre.dataset.decorated = "1";
      if (pre.scrollHeight > 320) {
        pre.classList.add("collapsed");
        pre.after(this.button("Show more", "toggle-output", "Show the whole output", "btn btn-xs btn-ghost self-start"));
      }
    });
  },

  codeOf(button) {
    return button.closest(".code-wrap").querySelector("pre").innerText;
  },

  /** Send `code` to run as the user's own cell (a turn of its own): the hidden run form, as the composer sends. */
  runCode(code) {
    const form = this.$refs.runForm;
    form.elements.code.value = code;
    form.requestSubmit();
  },

  /** Under a cell: its code in a text box, with "Run" and "Cancel". */
  openRunEditor(wrap) {
    if (wrap.nextElementSibling?.classList.contains("run-editor")) return;
    const editor = document.createElement("div");
    editor.className = "run-editor flex flex-col gap-1";
    const box = document.createElement("textarea");
    box.className = "textarea textarea-bordered font-mono text-sm w-full";
    box.value = wrap.querySelector("pre").innerText;
    box.rows = Math.min(20, box.value.split("\n").length + 1);
    box.setAttribute("aria-label", "Code to run");
    box.dataset.testid = "edit-run-code";
    const row = document.createElement("div");
    row.className = "flex gap-2";
    const go = this.button("Run", "edit-run-go", "Run the edited code", "btn btn-xs btn-primary");
    go.dataset.testid = "edit-run-go";
    const cancel = this.button("Cancel", "edit-run-cancel", "Close the editor", "btn btn-xs btn-ghost");
    row.append(go, cancel);
    editor.append(box, row);
    wrap.after(editor);
    box.focus();
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
      this.copy(this.codeOf(b), b);
    } else if (b.dataset.action === "run-code") {
      this.runCode(this.codeOf(b));
    } else if (b.dataset.action === "edit-run") {
      this.openRunEditor(b.closest(".code-wrap"));
    } else if (b.dataset.action === "edit-run-go") {
      this.runCode(b.closest(".run-editor").querySelector("textarea").value);
    } else if (b.dataset.action === "edit-run-cancel") {
      b.closest(".run-editor").remove();
    } else if (b.dataset.action === "regenerate") {
      this.regenerate(b.closest(".turn"));
    } else if (b.dataset.action === "copy-answer") {
      this.copyAnswer(b);
    } else if (b.dataset.action === "remove-file") {
      this.removeFile(b);
    } else if (b.dataset.action === "preview-file") {
      this.previewFile(b);
    } else if (b.dataset.action === "toggle-output") {
      const pre = b.previousElementSibling;
      const collapsed = pre.classList.toggle("collapsed");
      b.textContent = collapsed ? "Show more" : "Show less";
    }
  },

  /**
   * Copy an answer's markdown as the model wrote it (from the server), not the rendered text with the
   * code blocks' button labels in it; a node not stored yet (its turn still runs) falls back to its text.
   */
  copyAnswer(button) {
    const node = button.closest(".node");
    const [, k, n] = node.id.split("-");
    const shown = () => [...node.querySelectorAll(".assistant-text")].map((t) => t.innerText).join("\n\n");
    const text = fetch(`${this.$el.dataset.answerUrl}?k=${k}&n=${n}`)
      .then((r) => (r.ok ? r.text() : shown()), shown)
      .then((t) => new Blob([t], { type: "text/plain" }));
    // A promise in the ClipboardItem keeps the click's user activation across the fetch.
    this.copy(new ClipboardItem({ "text/plain": text }), button);
  },

  /** Put a string or a ClipboardItem on the clipboard; the button says "Copied" for a moment. */
  copy(content, button) {
    const done = typeof content === "string" ? navigator.clipboard.writeText(content) : navigator.clipboard.write([content]);
    done.then(() => {
      const was = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = was; }, 1200);
    });
  }
};
