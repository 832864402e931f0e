// Above the timeline of a back-office or tracker ticket: its description (the server's
// sanitised description_html, the one place HTML from the server is inserted) and the
// attributes of its type, edited in place with PATCH /api/v1/tickets/{id}.

import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { canWrite, isBackoffice, state, store, upsert } from "./state.js";
import { toast } from "./toast.js";
import { cachedType, loadTypes } from "./types.js";

export class Brief {
  constructor(root) {
    this.root = root;
    this.id = null;
    this.editing = false;
    this.collapsed = false;
    store.on("ticket", ({ ticket }) => ticket.id === this.id && !this.editing && this.render());
  }

  setTicket(id) {
    if (id !== this.id) this.editing = false;
    this.id = id;
    this.render();
  }

  render() {
    const t = this.id == null ? null : state.tickets.get(this.id);
    const show = Boolean(t) && (isBackoffice(t) || Boolean(t.description));
    this.root.hidden = !show;
    if (!show) return;
    const type = t.type != null ? cachedType(t.type) : null;
    if (t.type != null && !type) {
      loadTypes().then((r) => r.items.length && this.id === t.id && !this.editing && this.render());
    }
    if (this.editing) return;
    const writable = canWrite(t) && !["closed", "spam"].includes(t.status);
    const head = h(
      "div",
      { class: "brief-head" },
      h("span", {
        class: "brief-type",
        text: type?.name ?? (isBackoffice(t) ? "Ticket" : "Description"),
      }),
      h("span", { class: "spacer" }),
      writable
        ? h("button", {
            type: "button",
            class: "btn small ghost",
            text: "Edit",
            "aria-label": "Edit title, attributes and description",
            onclick: () => this.edit(t, type),
          })
        : null,
      h("button", {
        type: "button",
        class: "btn small ghost",
        "aria-expanded": String(!this.collapsed),
        text: this.collapsed ? "Show" : "Hide",
        onclick: () => {
          this.collapsed = !this.collapsed;
          this.render();
        },
      }),
    );
    clear(this.root).append(head);
    if (this.collapsed) return;
    const attrs = attributeList(type, t.attributes ?? {});
    if (attrs) this.root.append(attrs);
    const description = h("div", { class: "brief-description md" });
    if (t.description_html) {
      // Sanitised by the server (nh3) for exactly this use.
      description.innerHTML = t.description_html;
      for (const a of description.querySelectorAll("a")) {
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      }
    } else if (t.description) {
      description.textContent = t.description;
    } else {
      description.append(h("span", { class: "muted", text: "No description." }));
    }
    this.root.append(description);
  }

  edit(t, type) {
    this.editing = true;
    const form = h("form", { class: "brief-form", novalidate: true });
    const title = h("input", {
      class: "input",
      name: "title",
      value: t.title ?? "",
      maxlength: 200,
    });
    form.append(field("Title", title, true));
    const inputs = [];
    for (const a of type?.attributes ?? []) {
      const value = t.attributes?.[a.key] ?? "";
      let control;
      if (a.type === "choice") {
        control = h(
          "select",
          { class: "input" },
          h("option", { value: "", text: "—" }),
          (a.choices ?? []).map((c) => h("option", { value: c, text: c, selected: c === value })),
        );
      } else {
        control = h("input", {
          class: "input",
          type: a.type === "number" ? "number" : a.type === "date" ? "date" : "text",
          step: a.type === "number" ? "any" : null,
          value: String(value),
        });
      }
      control.dataset.attr = a.key;
      inputs.push([a, control]);
      form.append(field(a.label || a.key, control, a.required));
    }
    const description = h("textarea", {
      class: "input",
      rows: 6,
      value: t.description ?? "",
      maxlength: 20000,
    });
    form.append(field("Description (Markdown)", description, false));
    const error = h("p", { class: "form-error", role: "alert" });
    form.append(
      error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn small primary", text: "Save" }),
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "Cancel",
          onclick: () => {
            this.editing = false;
            this.render();
          },
        }),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const patch = {};
      const missing = [];
      if (!title.value.trim()) missing.push("Title");
      if (title.value.trim() !== (t.title ?? "")) patch.title = title.value.trim();
      if (description.value !== (t.description ?? "")) patch.description = description.value;
      const attributes = {};
      for (const [a, control] of inputs) {
        const raw = control.value.trim();
        if (!raw) {
          if (a.required) missing.push(a.label || a.key);
          continue;
        }
        attributes[a.key] = a.type === "number" ? Number(raw) : raw;
      }
      if (inputs.length && JSON.stringify(attributes) !== JSON.stringify(t.attributes ?? {})) {
        patch.attributes = attributes;
      }
      if (missing.length) {
        error.textContent = `Fill in: ${missing.join(", ")}.`;
        return;
      }
      if (!Object.keys(patch).length) {
        this.editing = false;
        this.render();
        return;
      }
      try {
        const fresh = await api(`/tickets/${t.id}`, { method: "PATCH", json: patch });
        this.editing = false;
        if (fresh?.id === t.id) upsert(fresh);
        this.render();
        toast("Saved.");
      } catch (err) {
        error.textContent = describe(err);
      }
    });
    clear(this.root).append(form);
    title.focus();
  }
}

function field(label, control, required) {
  return h(
    "label",
    { class: "field" },
    h(
      "span",
      { class: "field-label" },
      label,
      required ? h("span", { class: "req", title: "Required", text: " *" }) : null,
    ),
    control,
  );
}

/** The type's attributes in its order; values the type no longer defines come last. */
function attributeList(type, values) {
  const defs = type?.attributes ?? [];
  const keys = new Set(defs.map((d) => d.key));
  const rows = [
    ...defs.map((d) => [d.label || d.key, values[d.key], d.required]),
    ...Object.keys(values)
      .filter((k) => !keys.has(k))
      .map((k) => [k, values[k], false]),
  ];
  if (!rows.length) return null;
  const dl = h("dl", { class: "facts attrs" });
  for (const [label, value, required] of rows) {
    const empty = value == null || value === "";
    dl.append(
      h("dt", { text: label }),
      h("dd", {
        class: empty && required ? "missing" : empty ? "muted" : null,
        text: empty ? (required ? "missing" : "—") : String(value),
      }),
    );
  }
  return dl;
}
