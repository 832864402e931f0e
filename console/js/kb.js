// Knowledge base answers next to the composer: search (GET /api/v1/kb/search?q=), read an
// article, insert a selected part of it or a link to its public page (/kb/{slug}).

import { api, describe } from "./api.js";
import { $, clear, h } from "./dom.js";

export class KbPanel {
  constructor(root, { onInsert }) {
    this.root = root;
    this.onInsert = onInsert;
    this.timer = null;
    this.abort = null;
    this.#build();
  }

  #build() {
    this.input = h("input", {
      type: "search",
      class: "input",
      placeholder: "Search the knowledge base…",
      "aria-label": "Search the knowledge base",
      oninput: () => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.#search(this.input.value.trim()), 200);
      },
      onkeydown: (e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          this.close(true);
        }
      },
    });
    this.results = h("div", { class: "kb-results" });
    this.root.append(
      h(
        "div",
        { class: "popover-head" },
        h("span", { text: "Knowledge base" }),
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "Close",
          onclick: () => this.close(true),
        }),
      ),
      this.input,
      this.results,
    );
  }

  get isOpen() {
    return !this.root.hidden;
  }

  toggle() {
    if (this.isOpen) this.close(true);
    else this.open();
  }

  open() {
    this.root.hidden = false;
    this.input.focus();
    this.input.select();
    if (!this.results.childElementCount) {
      this.results.append(h("p", { class: "popover-empty", text: "Type to search articles." }));
    }
  }

  close(refocus = false) {
    this.root.hidden = true;
    this.abort?.abort();
    if (refocus) $("#composer-input")?.focus();
  }

  async #search(q) {
    this.abort?.abort();
    clear(this.results);
    if (!q) return;
    const abort = new AbortController();
    this.abort = abort;
    let items;
    try {
      items = (await api("/kb/search", { query: { q }, signal: abort.signal }))?.items ?? [];
    } catch (err) {
      if (err?.name === "AbortError") return;
      this.results.append(
        h("p", {
          class: "popover-empty",
          text: err.missing
            ? "The knowledge base is not available on this server yet."
            : describe(err),
        }),
      );
      return;
    }
    if (abort.signal.aborted) return;
    if (!items.length) {
      this.results.append(h("p", { class: "popover-empty", text: `No article matches “${q}”.` }));
      return;
    }
    for (const article of items) this.results.append(this.#article(article));
  }

  #article(a) {
    const url = a.url || (a.slug ? `/kb/${encodeURIComponent(a.slug)}` : null);
    const link = url ? new URL(url, location.origin).href : null;
    const body = h("div", { class: "kb-body", hidden: true });
    let text = a.body ?? null;
    const load = async () => {
      if (text != null) return text;
      try {
        text = (await api(`/kb/articles/${a.id}`))?.body ?? a.snippet ?? "";
      } catch (err) {
        text = a.snippet ?? "";
        body.dataset.error = describe(err);
      }
      body.textContent = text;
      return text;
    };
    if (text != null) body.textContent = text;
    return h(
      "div",
      { class: "kb-article" },
      h(
        "div",
        { class: "kb-line" },
        h("button", {
          type: "button",
          class: "kb-title",
          text: a.title || a.slug || "Untitled",
          "aria-expanded": "false",
          onclick: async (e) => {
            const btn = e.currentTarget;
            body.hidden = !body.hidden;
            btn.setAttribute("aria-expanded", String(!body.hidden));
            if (!body.hidden) await load();
          },
        }),
        a.published === false ? h("span", { class: "pill", text: "draft" }) : null,
      ),
      a.snippet ? h("p", { class: "kb-snippet", text: a.snippet }) : null,
      body,
      h(
        "div",
        { class: "kb-actions" },
        h("button", {
          type: "button",
          class: "btn small",
          text: "Insert selection",
          title: "Insert the part of the article you selected, or all of it",
          onclick: async () => {
            const sel = window.getSelection();
            const picked =
              sel && !sel.isCollapsed && body.contains(sel.anchorNode)
                ? sel.toString()
                : await load();
            this.close();
            this.onInsert(picked);
          },
        }),
        link && a.published !== false
          ? h("button", {
              type: "button",
              class: "btn small ghost",
              text: "Insert link",
              title: link,
              onclick: () => {
                this.close();
                this.onInsert(link);
              },
            })
          : null,
      ),
    );
  }
}
