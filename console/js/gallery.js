// The attachment gallery of a ticket (GET /api/v1/tickets/{id}/attachments): every file of
// every message and note, images as thumbnails with a large preview and previous / next, who
// sent each one and where in the timeline. Falls back to the files of the loaded timeline.

import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { Modal } from "./modal.js";
import { bytes, full } from "./time.js";

export class Gallery {
  constructor({ conversation }) {
    this.conversation = conversation;
    this.modal = new Modal({ title: "Attachments", className: "wide gallery-dialog" });
    this.items = [];
    this.at = -1;
    this.modal.el.addEventListener("keydown", (e) => {
      if (this.at < 0) return;
      if (e.key === "ArrowRight") this.#show(this.at + 1);
      else if (e.key === "ArrowLeft") this.#show(this.at - 1);
    });
  }

  async open(t) {
    this.modal.setTitle(`Attachments of #${t.id}`);
    this.at = -1;
    clear(this.modal.body).append(h("p", { class: "muted", text: "Loading…" }));
    this.modal.show();
    let note = null;
    try {
      this.items = (await api(`/tickets/${t.id}/attachments`))?.items ?? [];
    } catch (err) {
      this.items = this.#fromTimeline(t.id);
      note = err.missing
        ? "Showing the files of the loaded conversation; the server has no attachment list yet."
        : `Could not load the list (${describe(err)}); showing the files on screen.`;
    }
    this.#grid(note);
  }

  #fromTimeline(id) {
    const tl = this.conversation.timeline;
    if (!tl || tl.ticket !== id) return [];
    return tl
      .sorted()
      .flatMap((e) =>
        (e.attachments ?? []).map((a) => ({ ...a, seq: e.seq, author: e.author, at: e.at })),
      );
  }

  #grid(note) {
    const body = clear(this.modal.body);
    if (note) body.append(h("p", { class: "muted small", text: note }));
    if (!this.items.length) {
      body.append(h("p", { class: "muted", text: "No files on this ticket." }));
    }
    const grid = h("div", { class: "gallery" });
    this.items.forEach((a, i) => {
      const image = isImage(a);
      grid.append(
        h(
          "button",
          {
            type: "button",
            class: `tile${image ? " image" : ""}`,
            title: a.filename,
            onclick: () => this.#show(i),
          },
          image
            ? h("img", { src: a.url, alt: a.filename || "image", loading: "lazy" })
            : h("span", {
                class: "tile-icon",
                "aria-hidden": "true",
                text: isPdf(a) ? "PDF" : "FILE",
              }),
          h("span", { class: "tile-name", text: a.filename || "file" }),
          h("span", { class: "tile-by", text: byline(a) }),
        ),
      );
    });
    body.append(
      grid,
      h(
        "div",
        { class: "form-actions" },
        h("button", {
          type: "button",
          class: "btn",
          text: "Close",
          onclick: () => this.modal.close(),
        }),
      ),
    );
  }

  #show(i) {
    if (i < 0 || i >= this.items.length) return;
    this.at = i;
    const a = this.items[i];
    const body = clear(this.modal.body);
    const view = isImage(a)
      ? h("img", { class: "preview-image", src: a.url, alt: a.filename || "image" })
      : h(
          "div",
          { class: "preview-file" },
          h("span", {
            class: "tile-icon big",
            "aria-hidden": "true",
            text: isPdf(a) ? "PDF" : "FILE",
          }),
          h("p", { text: `${a.filename} · ${bytes(a.size)}` }),
        );
    body.append(
      h(
        "div",
        { class: "preview-bar" },
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "← All files",
          onclick: () => {
            this.at = -1;
            this.#grid(null);
          },
        }),
        h("span", { class: "spacer" }),
        h("button", {
          type: "button",
          class: "btn small",
          text: "Previous",
          disabled: i === 0,
          onclick: () => this.#show(i - 1),
        }),
        h("span", { class: "muted small", text: `${i + 1} / ${this.items.length}` }),
        h("button", {
          type: "button",
          class: "btn small",
          text: "Next",
          disabled: i === this.items.length - 1,
          onclick: () => this.#show(i + 1),
        }),
      ),
      h("div", { class: "preview-stage" }, view),
      h(
        "div",
        { class: "preview-meta" },
        h("strong", { text: a.filename || "file" }),
        h("span", { class: "muted", text: ` · ${bytes(a.size)} · ${byline(a)}` }),
        h("span", { class: "spacer" }),
        h("a", {
          class: "btn small",
          href: a.url,
          target: "_blank",
          rel: "noopener noreferrer",
          text: "Open",
        }),
        h("a", {
          class: "btn small primary",
          href: a.url,
          download: a.filename || "file",
          text: "Download",
        }),
      ),
    );
  }
}

function isImage(a) {
  return typeof a.content_type === "string" && a.content_type.startsWith("image/") && a.url;
}

function isPdf(a) {
  return a.content_type === "application/pdf";
}

function byline(a) {
  const who = a.author?.name || (a.author?.type === "visitor" ? "Customer" : a.author?.type) || "";
  const where = a.seq != null ? `#${a.seq} in the timeline` : "";
  const when = a.at ? full(a.at) : "";
  return [who, where, when].filter(Boolean).join(" · ");
}
