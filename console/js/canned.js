// The canned responses picker: "/" at the start of the composer opens it, the text after
// the slash filters it (GET /api/v1/canned?q=), Enter or Tab inserts the chosen reply
// rendered for this ticket (GET /api/v1/canned/{id}/render?ticket=).

import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { customerName, state } from "./state.js";

const DEBOUNCE_MS = 120;

export class CannedPicker {
  constructor(root, { onChoose }) {
    this.root = root;
    this.onChoose = onChoose;
    this.items = [];
    this.index = 0;
    this.query = null;
    this.timer = null;
    this.abort = null;
    this.message = null;
    root.addEventListener("mousedown", (e) => e.preventDefault()); // keep the textarea focused
  }

  get isOpen() {
    return !this.root.hidden;
  }

  /** Called on every input: `query` is the text after "/" or null when not picking. */
  update(query) {
    if (query == null) {
      this.close();
      return;
    }
    this.root.hidden = false;
    if (query === this.query) return;
    this.query = query;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#search(query), DEBOUNCE_MS);
    if (!this.items.length && !this.message) this.#render("Searching…");
  }

  close() {
    clearTimeout(this.timer);
    this.abort?.abort();
    this.root.hidden = true;
    this.query = null;
    this.items = [];
    this.message = null;
  }

  async #search(query) {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    try {
      // "/thx" asks for shortcuts starting with /thx; a bare "/" lists them all.
      const data = await api("/canned", {
        query: { q: `/${query}`, limit: 20 },
        signal: abort.signal,
      });
      if (abort.signal.aborted) return;
      this.items = data?.items ?? [];
      this.index = 0;
      this.message = this.items.length
        ? null
        : query
          ? `No canned response matches “${query}”.`
          : "No canned responses yet.";
    } catch (err) {
      if (err?.name === "AbortError") return;
      this.items = [];
      this.message = err.missing
        ? "Canned responses are not available on this server yet."
        : describe(err);
    }
    this.#render(this.message);
  }

  #render(message) {
    clear(this.root);
    this.root.append(
      h(
        "div",
        { class: "popover-head" },
        h("span", { text: "Canned responses" }),
        h("kbd", { text: "↑↓ Enter Esc" }),
      ),
    );
    if (message) {
      this.root.append(h("p", { class: "popover-empty", text: message }));
      return;
    }
    const list = h("ul", { class: "picker", role: "listbox", "aria-label": "Canned responses" });
    this.items.forEach((item, i) => {
      list.append(
        h(
          "li",
          {
            role: "option",
            "aria-selected": String(i === this.index),
            dataset: { index: i },
            onclick: () => {
              this.index = i;
              this.choose();
            },
          },
          h(
            "span",
            { class: "picker-title" },
            item.shortcut
              ? h("span", { class: "shortcut", text: shortcutText(item.shortcut) })
              : null,
            h("span", { text: item.title || "" }),
            item.scope ? h("span", { class: "scope", text: item.scope }) : null,
          ),
          h("span", { class: "picker-body", text: (item.body || "").slice(0, 140) }),
        ),
      );
    });
    this.root.append(list);
  }

  move(delta) {
    if (!this.items.length) return;
    this.index = (this.index + delta + this.items.length) % this.items.length;
    this.#render(null);
    this.root.querySelector("[aria-selected=true]")?.scrollIntoView({ block: "nearest" });
  }

  /** Insert the highlighted reply, rendered by the server for the open ticket. */
  async choose() {
    const item = this.items[this.index];
    if (!item) return false;
    const ticket = state.currentId;
    let body;
    try {
      body = (await api(`/canned/${item.id}/render`, { query: { ticket } }))?.body;
    } catch (err) {
      if (!err.missing) {
        this.#render(describe(err));
        return true;
      }
    }
    this.close();
    this.onChoose(body ?? fillLocally(item.body ?? "", ticket));
    return true;
  }
}

/** When the server cannot render yet: the contract's two placeholders, filled here. */
function fillLocally(body, ticketId) {
  const t = state.tickets.get(ticketId);
  return body
    .replaceAll("{{customer.name}}", t?.customer?.name || customerName(t))
    .replaceAll("{{agent.name}}", state.me?.name ?? "");
}

export function shortcutText(shortcut) {
  return shortcut.startsWith("/") ? shortcut : `/${shortcut}`;
}
