// Files for the chat component (spread into Alpine.data("chat") by chat.js): the attach button, drag and drop,
// paste. Each file goes to the server over HTTP as it is chosen; the server answers with its chip (a hidden input
// with the file's name, sent with the message) or with one sentence saying why it was refused.

window.varroFiles = {
  /** The picker's files, then clear it so the same file can be chosen again. */
  picked(e) {
    this.uploadAll(e.target.files);
    e.target.value = "";
  },

  openPicker() { this.$refs.picker.click(); },

  dragging: false, // files are being dragged over the chat: the drop hint shows

  /** Accept a drop anywhere on the chat; only files are taken. */
  dragOver(e) {
    if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) {
      e.dataTransfer.dropEffect = "copy";
      this.dragging = true;
    }
  },

  /** The drag left the chat (not just one element inside it for another), or was given up. */
  dragLeft(e) {
    if (!e.relatedTarget || !this.$el.contains(e.relatedTarget)) this.dragging = false;
  },

  dropped(e) {
    this.dragging = false;
    if (e.dataTransfer && e.dataTransfer.files.length) this.uploadAll(e.dataTransfer.files);
  },

  /** A pasted file (a screenshot, a copied file) is attached; pasted text stays ordinary text. */
  pasted(e) {
    const files = e.clipboardData ? e.clipboardData.files : null;
    if (files && files.length) { e.preventDefault(); this.uploadAll(files); }
  },

  /** Upload one after another, so chips appear in the order chosen and a refusal names its file. */
  async uploadAll(list) {
    for (const file of [...list]) await this.upload(file);
  },

  /**
   * Send one file as the request body (streamed by the browser); show its chip, or say why it was refused.
   * @param {File} file
   */
  async upload(file) {
    const form = document.getElementById("chat-form");
    const chips = document.getElementById("chat-attachments");
    const pending = document.createElement("span");
    pending.className = "badge badge-ghost animate-pulse";
    pending.dataset.testid = "file-uploading";
    pending.textContent = `${file.name}…`;
    chips.append(pending);
    try {
      const url = `${form.dataset.filesUrl}?name=${encodeURIComponent(file.name)}`;
      const resp = await fetch(url, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
      const text = await resp.text();
      if (!resp.ok) { this.notify(text || `${file.name} could not be uploaded.`); return; }
      const holder = document.createElement("div");
      holder.innerHTML = text; // our own server's chip, rendered from FT components (escaped)
      pending.replaceWith(...holder.children);
    } catch (err) {
      this.notify(`${file.name} could not be uploaded: the connection failed.`);
    } finally {
      pending.remove();
    }
  },

  /** × on a chip: the file leaves the chat's folder, the chip the message. */
  removeFile(button) {
    const chip = button.closest("[data-testid=file-chip]");
    fetch(button.dataset.url, { method: "POST" }).then(() => chip.remove());
  },

  /** Preview on a table's chip: its first rows, under the chips (our own server's fragment, from FT components). */
  previewFile(button) {
    fetch(button.dataset.url, { headers: { "HX-Request": "true" } }).then((r) => r.text()).then((html) => {  // the fragment alone
      const holder = document.createElement("div");
      holder.innerHTML = html;
      const preview = holder.firstElementChild;
      if (preview && preview.id === "attachment-preview") document.getElementById("attachment-preview").replaceWith(preview);
      else this.notify("That file's preview could not be fetched.");
    }, () => this.notify("That file's preview could not be fetched: the connection failed."));
  },

  /** After a send the chips belong to the message, not to the next one. */
  clearChips() {
    document.getElementById("chat-attachments").replaceChildren();
    // A chip's table preview goes with the chips: its slot, empty again (ui/files.py FilePreviewSlot).
    const slot = Object.assign(document.createElement("div"), { id: "attachment-preview", className: "w-full empty:hidden" });
    document.getElementById("attachment-preview").replaceWith(slot);
  },

  showFiles() { this.closeMenu(); this.$refs.filesDialog.showModal(); },
};
