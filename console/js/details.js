// The right column: who the customer is (name and e-mail editable in place), where they
// came from, linked back-office tickets (links.js), the ticket's fields (ticketcard.js),
// labels (add with autocomplete, remove), earlier tickets, notes about the customer.

import { api, describe } from "./api.js";
import { $, clear, h } from "./dom.js";
import { editable } from "./editable.js";
import { LinksCard } from "./links.js";
import { canWrite, customerName, isBackoffice, state, store } from "./state.js";
import { TicketCard } from "./ticketcard.js";
import { errorToast, toast } from "./toast.js";
import { agoLong, full } from "./time.js";

export class Details {
  constructor(root, { conversation, create }) {
    this.root = root;
    this.conversation = conversation;
    this.links = new LinksCard({
      root: $("#d-links", root),
      title: $("#d-links-title", root),
      actions: $("#d-links-actions", root),
      create: (t) => create?.open({ kind: "backoffice", from: t }),
    });
    this.ticketCard = new TicketCard($("#d-ticket", root));
    this.ticketId = null;
    this.customer = null; // full record from GET /customers/{id}, when the server has it
    this.customerMissing = false;
    this.history = null;
    this.labelNames = null;
    this.el = {
      empty: $("#details-empty", root),
      body: $("#details-body", root),
      customer: $("#d-customer", root),
      visit: $("#d-visit", root),
      labels: $("#d-labels", root),
      history: $("#d-history", root),
      notes: $("#d-notes", root),
    };
    store.on("ticket", ({ ticket, old }) => {
      if (ticket.id !== this.ticketId) return;
      if (old?.customer?.id !== ticket.customer?.id) this.#loadCustomer();
      this.render();
    });
  }

  setTicket(id) {
    this.ticketId = id;
    this.customer = null;
    this.history = null;
    if (this.noteArea) this.noteArea.value = "";
    if (this.labelInput) this.labelInput.value = "";
    this.el.empty.hidden = id != null;
    this.el.body.hidden = id == null;
    if (id == null) return;
    this.render();
    this.#loadCustomer();
  }

  get ticket() {
    return state.tickets.get(this.ticketId);
  }

  async #loadCustomer() {
    const t = this.ticket;
    const id = t?.customer?.id;
    if (id == null) return;
    const ticketId = this.ticketId;
    try {
      this.customer = await api(`/customers/${id}`);
      this.customerMissing = false;
      this.history = this.customer?.tickets ?? null;
    } catch (err) {
      this.customer = null;
      this.customerMissing = Boolean(err.missing);
      if (!err.missing) console.warn("customer", describe(err));
    }
    if (this.history == null) this.history = await this.#historyBySearch(t);
    if (ticketId === this.ticketId) this.render();
  }

  /** Without the customers API: earlier tickets found by the customer's e-mail. */
  async #historyBySearch(t) {
    const email = t?.customer?.email;
    if (!email) return [];
    try {
      const data = await api("/tickets", { query: { customer: email, limit: 20 } });
      return (data?.items ?? []).filter((x) => x.customer?.id === t.customer.id);
    } catch {
      return [];
    }
  }

  render() {
    const t = this.ticket;
    if (!t) return;
    const person = !isBackoffice(t) || Boolean(t.customer);
    $("#d-customer-card", this.root).hidden = !person;
    $("#d-notes-card", this.root).hidden = !person;
    $("#d-history-card", this.root).hidden = !person;
    this.links.render(t);
    this.ticketCard.render(t);
    if (person) {
      this.#renderCustomer(t);
      this.#renderVisit(t);
    }
    this.#renderLabels(t);
    if (person) {
      this.#renderHistory(t);
      this.#renderNotes();
    }
  }

  // ---------------------------------------------------------------- customer

  #renderCustomer(t) {
    if (
      this.el.customer.contains(document.activeElement) &&
      document.activeElement.matches("input, textarea")
    ) {
      return; // being edited: the save re-renders it
    }
    const box = clear(this.el.customer);
    const c = { ...(t.customer ?? {}), ...(this.customer ?? {}) };
    box.append(
      h("div", { class: "avatar", "aria-hidden": "true", text: initials(customerName(t)) }),
      h(
        "div",
        { class: "who" },
        editable({
          value: c.name ?? "",
          empty: customerName(t),
          label: "Customer name",
          className: "who-name",
          onSave: (v) => this.#saveCustomer({ name: v }),
        }),
        editable({
          value: c.email ?? "",
          empty: "Add e-mail",
          label: "Customer e-mail",
          className: "who-email",
          type: "email",
          onSave: (v) => this.#saveCustomer({ email: v }),
        }),
      ),
    );
  }

  async #saveCustomer(patch) {
    const t = this.ticket;
    const id = t?.customer?.id;
    if (id == null) return false;
    try {
      const saved = await api(`/customers/${id}`, { method: "PATCH", json: patch });
      this.customer = { ...(this.customer ?? {}), ...(saved ?? patch) };
      const ref = { id, name: this.customer.name ?? null, email: this.customer.email ?? null };
      for (const [key, ticket] of state.tickets) {
        if (ticket.customer?.id === id) {
          const next = { ...ticket, customer: { ...ticket.customer, ...ref } };
          state.tickets.set(key, next);
          store.emit("ticket", { ticket: next, old: ticket });
        }
      }
      toast("Customer saved.");
      return true;
    } catch (err) {
      errorToast(err, err.missing ? "" : "Could not save");
      return false;
    }
  }

  #renderVisit(t) {
    const box = clear(this.el.visit);
    const c = this.customer ?? {};
    const rows = [
      ["Started", agoLong(t.created_at), full(t.created_at)],
      ["Site", t.site?.name ?? t.site?.key],
      ["IP", c.ip],
      ["Page", c.page_url, c.page_url, true],
      ["Browser", browserOf(c.user_agent), c.user_agent],
      ["First seen", firstSeen(c.created_at, t.created_at), full(c.created_at)],
      ["Phone", c.phone],
      ["Company", typeof c.company === "object" ? c.company?.name : null],
    ];
    const dl = h("dl", { class: "facts" });
    for (const [label, value, title, link] of rows) {
      if (!value) continue;
      dl.append(
        h("dt", { text: label }),
        h(
          "dd",
          { title },
          link
            ? h("a", {
                href: value,
                target: "_blank",
                rel: "noopener noreferrer",
                text: shortUrl(value),
              })
            : value,
        ),
      );
    }
    box.append(dl);
    if (this.customerMissing) {
      box.append(
        h("p", {
          class: "muted small",
          text: "IP, page and browser appear here once the server offers /api/v1/customers.",
        }),
      );
    }
  }

  // ---------------------------------------------------------------- labels

  #renderLabels(t) {
    const box = this.el.labels;
    const writable = canWrite(t);
    if (!this.labelChips) {
      this.labelChips = h("div", { class: "chips" });
      this.labelList = h("datalist", { id: "label-options" });
      this.labelInput = h("input", {
        class: "input small",
        type: "text",
        placeholder: "Add a label…",
        "aria-label": "Add a label",
        list: "label-options",
        autocomplete: "off",
        maxlength: 64,
        onfocus: () => this.#loadLabelNames(this.labelList),
        onkeydown: (e) => this.#labelKey(e),
      });
      box.append(
        this.labelChips,
        h("div", { class: "label-add" }, this.labelInput, this.labelList),
      );
    }
    const chips = clear(this.labelChips);
    for (const name of t.labels ?? []) {
      chips.append(
        h(
          "span",
          { class: "chip", dataset: { label: name } },
          h("span", { text: name }),
          writable
            ? h("button", {
                type: "button",
                class: "chip-x",
                "aria-label": `Remove label ${name}`,
                text: "×",
                onclick: () => this.conversation.labels([], [name]).catch(() => {}),
              })
            : null,
        ),
      );
    }
    if (!(t.labels ?? []).length)
      chips.append(h("span", { class: "muted small", text: "No labels" }));
    this.labelInput.parentElement.hidden = !writable;
    this.#fillLabelOptions(this.labelList);
  }

  #labelKey(e) {
    const input = this.labelInput;
    if (e.key === "Enter" || e.key === ",") {
      e.preventDefault();
      const name = input.value.trim().replace(/,$/, "");
      if (!name) return;
      input.value = "";
      this.conversation.labels([name], []).catch(() => {
        input.value = name;
      });
    } else if (e.key === "Escape") {
      input.blur();
    }
  }

  async #loadLabelNames(datalist) {
    if (this.labelNames == null) {
      try {
        const data = await api("/labels");
        this.labelNames = (data?.items ?? [])
          .map((x) => (typeof x === "string" ? x : x.name))
          .filter(Boolean);
      } catch {
        this.labelNames = [];
      }
    }
    this.#fillLabelOptions(datalist);
  }

  #fillLabelOptions(datalist) {
    const names = new Set(this.labelNames ?? []);
    for (const t of state.tickets.values()) for (const l of t.labels ?? []) names.add(l);
    for (const l of this.ticket?.labels ?? []) names.delete(l);
    clear(datalist);
    for (const name of Array.from(names).sort()) datalist.append(h("option", { value: name }));
  }

  // ---------------------------------------------------------------- history and notes

  #renderHistory(t) {
    const box = clear(this.el.history);
    if (this.history == null) {
      box.append(h("p", { class: "muted small", text: "Loading…" }));
      return;
    }
    const earlier = this.history.filter((x) => x.id !== t.id);
    if (!earlier.length) {
      box.append(h("p", { class: "muted small", text: "No earlier tickets." }));
      return;
    }
    const ul = h("ul", { class: "history" });
    for (const x of earlier.slice(0, 10)) {
      ul.append(
        h(
          "li",
          null,
          h(
            "a",
            { href: `#/t/${x.id}` },
            h("span", { class: "h-id", text: `#${x.id}` }),
            h("span", { class: "h-subject", text: x.subject || "(no subject)" }),
            h("span", { class: `pill s-${x.status}`, text: x.status }),
            h("span", { class: "h-time", title: full(x.created_at), text: agoLong(x.created_at) }),
          ),
        ),
      );
    }
    box.append(ul);
  }

  /** Customer notes: what the team should know about this person, on every chat of theirs. */
  #renderNotes() {
    const t = this.ticket;
    if (!t) return;
    const box = this.el.notes;
    if (!this.notesList) {
      this.notesList = h("div", { class: "side-notes" });
      this.noteArea = h("textarea", {
        class: "input small",
        rows: 2,
        placeholder: "Add a note about this customer (Enter)",
        "aria-label": "Add a note about this customer",
        onkeydown: (e) => {
          if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
          e.preventDefault();
          this.#addNote();
        },
      });
      this.noteAdd = h(
        "div",
        { class: "note-add" },
        this.noteArea,
        h("p", {
          class: "muted small",
          text: "Seen by your team on every chat with this customer, never by the customer.",
        }),
      );
      box.append(this.notesList, this.noteAdd);
    }
    const list = clear(this.notesList);
    if (this.customerMissing) {
      list.append(
        h("p", {
          class: "muted small",
          text: "Customer notes need /api/v1/customers on the server.",
        }),
      );
      this.noteAdd.hidden = true;
      return;
    }
    this.noteAdd.hidden = t.customer?.id == null;
    const notes = Array.isArray(this.customer?.notes) ? this.customer.notes : null;
    if (notes == null) {
      list.append(h("p", { class: "muted small", text: this.customer ? "" : "Loading…" }));
      return;
    }
    if (!notes.length)
      list.append(h("p", { class: "muted small", text: "No notes about this customer yet." }));
    for (const n of notes.slice(-8).reverse()) {
      list.append(
        h(
          "div",
          { class: "side-note" },
          h("span", { class: "side-note-body", text: n.body }),
          h("span", {
            class: "side-note-by",
            title: full(n.created_at),
            text: `${n.author?.name ?? "Someone"} · ${agoLong(n.created_at)}`,
          }),
        ),
      );
    }
  }

  async #addNote() {
    const body = this.noteArea.value.trim();
    const customerId = this.ticket?.customer?.id;
    if (!body || customerId == null) return;
    this.noteArea.disabled = true;
    try {
      const note = await api(`/customers/${customerId}/notes`, { method: "POST", json: { body } });
      if (this.ticket?.customer?.id === customerId && this.customer) {
        this.customer.notes = [...(this.customer.notes ?? []), note];
      }
      this.noteArea.value = "";
      this.#renderNotes();
    } catch (err) {
      errorToast(err, "Could not save the note");
    } finally {
      this.noteArea.disabled = false;
      this.noteArea.focus();
    }
  }
}

function initials(name) {
  const parts = String(name)
    .replace(/[#@].*$/, "")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const letters = parts.slice(0, 2).map((p) => Array.from(p)[0]?.toUpperCase() ?? "");
  return letters.join("") || "?";
}

const SYSTEMS = [
  [/Windows/, "Windows"],
  [/Mac OS X/, "macOS"],
  [/Android/, "Android"],
  [/iPhone|iPad/, "iOS"],
  [/Linux/, "Linux"],
];
const BROWSERS = [
  [/Edg\//, "Edge"],
  [/Firefox\//, "Firefox"],
  [/Chrome\//, "Chrome"],
  [/Safari\//, "Safari"],
];

/** "Chrome on macOS" from a user agent; its first word when it is no browser we know. */
function browserOf(ua) {
  if (!ua) return null;
  const os = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1] ?? ua.split(" ")[0].slice(0, 40);
  return os ? `${browser} on ${os}` : browser;
}

/** When the customer was first seen, if well before this chat started. */
function firstSeen(customerIso, ticketIso) {
  if (!customerIso) return null;
  const gap = Date.parse(ticketIso) - Date.parse(customerIso);
  return gap > 3_600_000 ? agoLong(customerIso) : null;
}

function shortUrl(url) {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`.slice(0, 48);
  } catch {
    return String(url).slice(0, 48);
  }
}
