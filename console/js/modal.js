// A modal dialog built on <dialog>: a title, a body the caller fills, Escape and Cancel close.

import { h } from "./dom.js";

export class Modal {
  constructor({ title, className = "" }) {
    this.title = h("h2", { text: title });
    this.body = h("div", { class: "modal-body" });
    this.el = h("dialog", { class: `dialog ${className}`.trim() }, this.title, this.body);
    this.el.addEventListener("close", () => this.onClose?.());
    document.body.append(this.el);
  }

  setTitle(text) {
    this.title.textContent = text;
  }

  show() {
    if (!this.el.open) this.el.showModal();
  }

  close() {
    if (this.el.open) this.el.close();
  }

  get isOpen() {
    return this.el.open;
  }
}
