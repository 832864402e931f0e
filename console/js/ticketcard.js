// The sidebar's Ticket card: priority, service levels (due times with soon / breached),
// channel, classification (category, service, language), CC addresses and the internal-only
// switch. Every change is a PATCH /api/v1/tickets/{id}, recorded by the server as `updated`.

import { api } from "./api.js";
import { clear, h } from "./dom.js";
import { canWrite, isBackoffice, reasonText, slaState, upsert } from "./state.js";
import { clock, full } from "./time.js";
import { errorToast } from "./toast.js";
import { cachedType, loadTypes } from "./types.js";
import { editable } from "./editable.js";

const PRIORITIES = ["low", "normal", "high", "urgent"];
const CHANNELS = { chat: "Chat", email: "E-mail", phone: "Phone", other: "Other" };
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class TicketCard {
  constructor(root) {
    this.root = root;
    this.ticket = null;
  }

  render(t) {
    const root = this.root;
    const active = root.contains(document.activeElement) ? document.activeElement : null;
    // Typing in one of the fields: leave it alone until it is saved.
    if (this.ticket?.id === t.id && active?.matches(".inline-edit input")) {
      this.ticket = t;
      return;
    }
    const refocus = this.ticket?.id === t.id && active?.matches(".cc-box input");
    this.ticket = t;
    const writable = canWrite(t) && !["closed", "spam"].includes(t.status);
    if (classes === undefined) {
      classes = null;
      api("/classification")
        .then((c) => (classes = c ?? {}))
        .catch(() => (classes = {}))
        .finally(() => this.ticket && this.render(this.ticket));
    }
    const dl = h("dl", { class: "facts ticket-facts" });
    const row = (label, ...value) => dl.append(h("dt", { text: label }), h("dd", null, ...value));
    if (isBackoffice(t) && t.type != null) {
      const type = cachedType(t.type);
      if (!type) loadTypes().then(() => this.ticket?.id === t.id && this.render(this.ticket));
      row("Type", type?.name ?? `#${t.type}`);
    }
    row(
      "Priority",
      h(
        "select",
        {
          class: `input small prio-select p-${t.priority ?? "normal"}`,
          "aria-label": "Priority",
          disabled: !writable,
          onchange: (e) => this.save({ priority: e.target.value }),
        },
        PRIORITIES.map((p) =>
          h("option", { value: p, text: p, selected: p === (t.priority ?? "normal") }),
        ),
      ),
    );
    const due = dueLines(t);
    if (due.length) row("Due", ...due);
    if (t.channel && !isBackoffice(t)) row("Channel", CHANNELS[t.channel] ?? t.channel);
    if (t.resolve_reason) row("Resolved", reasonText(t.resolve_reason));
    for (const [key, label, list] of [
      ["category", "Category", "categories"],
      ["service", "Service", "services"],
      ["language", "Language", null],
    ]) {
      const names = classes?.[list] ?? [];
      const save = (v) => this.save({ [key]: v || null });
      row(
        label,
        names.length
          ? choose(t[key], names, label, writable, save)
          : writable
            ? editable({
                value: t[key] ?? "",
                empty: "Add",
                label,
                className: "inline-edit",
                onSave: save,
              })
            : h("span", { class: t[key] ? "" : "muted", text: t[key] || "—" }),
      );
    }
    if (t.group?.name) row("Group", t.group.name);
    clear(root).append(dl);
    if (!isBackoffice(t)) root.append(this.#cc(t, writable));
    if (!isBackoffice(t)) {
      const internal = t.visibility === "internal";
      root.append(
        h(
          "label",
          { class: "switch", title: "An internal ticket reaches the customer by no path" },
          h("input", {
            type: "checkbox",
            role: "switch",
            checked: internal,
            disabled: !writable,
            "aria-checked": String(internal),
            onchange: (e) => this.save({ visibility: e.target.checked ? "internal" : "public" }),
          }),
          h("span", { class: "switch-track", "aria-hidden": "true" }),
          h("span", { text: "Internal only" }),
        ),
      );
    }
    if (refocus) root.querySelector(".cc-box input")?.focus();
  }

  #cc(t, writable) {
    const list = t.cc ?? [];
    const chips = h("div", { class: "chips cc" });
    for (const address of list) {
      chips.append(
        h(
          "span",
          { class: "chip", dataset: { cc: address } },
          h("span", { text: address }),
          writable
            ? h("button", {
                type: "button",
                class: "chip-x",
                "aria-label": `Remove ${address} from CC`,
                text: "×",
                onclick: () => this.save({ cc: list.filter((x) => x !== address) }),
              })
            : null,
        ),
      );
    }
    const input = writable
      ? h("input", {
          class: "input small",
          type: "email",
          placeholder: "Add a CC address…",
          "aria-label": "Add a CC address",
          onkeydown: async (e) => {
            if (e.key !== "Enter" && e.key !== ",") return;
            e.preventDefault();
            const address = input.value.trim().replace(/,$/, "");
            if (!address) return;
            if (!EMAIL.test(address)) {
              input.setAttribute("aria-invalid", "true");
              input.title = "Not an e-mail address";
              return;
            }
            input.removeAttribute("aria-invalid");
            if (list.includes(address)) {
              input.value = "";
              return;
            }
            input.value = "";
            if (!(await this.save({ cc: [...list, address] }))) input.value = address;
          },
        })
      : null;
    return h(
      "div",
      { class: "cc-box" },
      h("span", { class: "field-label", text: "CC" }),
      list.length ? chips : h("span", { class: "muted small", text: " nobody" }),
      input,
    );
  }

  async save(patch) {
    const id = this.ticket?.id;
    if (id == null) return false;
    try {
      const fresh = await api(`/tickets/${id}`, { method: "PATCH", json: patch });
      if (fresh?.id === id) upsert(fresh);
      return true;
    } catch (err) {
      errorToast(err, "Could not save");
      if (this.ticket) this.render(this.ticket);
      return false;
    }
  }
}

let classes; // {categories, services} from GET /classification: loaded once

/** A value from the admin's list (Settings → Categories and services). */
function choose(value, names, label, writable, onSave) {
  const options = names.includes(value) || !value ? names : [value, ...names];
  return h(
    "select",
    {
      class: "input small",
      "aria-label": label,
      disabled: !writable,
      onchange: (e) => onSave(e.target.value),
    },
    h("option", { value: "", text: "—" }),
    options.map((n) => h("option", { value: n, text: n, selected: n === value })),
  );
}

/** "First response by 14:30 · soon" and "Resolution by Tue 10:00 · breached". */
function dueLines(t) {
  const due = t.due;
  if (!due) return [];
  const now = slaState(t);
  const out = [];
  for (const [part, label] of [
    ["first_response", "First response"],
    ["resolution", "Resolution"],
  ]) {
    const at = due[`${part}_at`];
    let s = due[part];
    if (!at && !s) continue;
    if (now?.part === part) s = now.state;
    out.push(
      h(
        "div",
        { class: "due-line" },
        `${label} ${at ? `by ${clock(at)}` : ""}`,
        s && s !== "ok" ? h("span", { class: `sla sla-${s}`, title: full(at), text: s }) : null,
      ),
    );
  }
  return out;
}
