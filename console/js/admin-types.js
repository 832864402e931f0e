// Settings → Ticket types: back-office and tracker types and their attributes (key, label,
// text / number / choice / date, required, choices), edited row by row and saved whole
// with POST or PATCH /api/v1/ticket-types.

import { splitList } from "./admin.js";
import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { toast } from "./toast.js";
import { forgetTypes } from "./types.js";

const KINDS = [
  ["backoffice", "Back office"],
  ["tracker", "Tracker"],
];
const TYPES = [
  ["text", "Text"],
  ["number", "Number"],
  ["choice", "Choice"],
  ["date", "Date"],
];
const KEY = /^[a-z][a-z0-9_]{0,39}$/;

export class TicketTypesPage {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.items = [];
    this.editing = null; // a type being edited, or null for a new one
    this.rows = [];
  }

  async load() {
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", { class: "muted", text: "Loading…" }),
    );
    try {
      this.items = (await api("/ticket-types", { query: { limit: 100 } }))?.items ?? [];
    } catch (err) {
      clear(this.root).append(
        h("h2", { text: this.page.title }),
        h("p", {
          class: err.missing ? "notice" : "notice error",
          text: err.missing
            ? `Ticket types: ${describe(err)} This page works once it does.`
            : describe(err),
        }),
      );
      return;
    }
    this.#startEdit(null);
  }

  #startEdit(type) {
    this.editing = type;
    this.rows = (type?.attributes ?? []).map((a) => ({
      ...a,
      choicesText: (a.choices ?? []).join(", "),
      keyTouched: true,
    }));
    this.render();
  }

  render() {
    const root = clear(this.root);
    root.append(
      h("h2", { text: this.page.title }),
      h("p", {
        class: "muted intro",
        text: "Back-office tickets ask another team to act; trackers gather many customer tickets about one problem. Each type lists the attributes its tickets carry; required ones must be filled in to create one.",
      }),
    );
    const table = h(
      "table",
      { class: "table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { text: "Name" }),
          h("th", { text: "Kind" }),
          h("th", { text: "Attributes" }),
          h("th", { class: "actions" }),
        ),
      ),
    );
    const body = h("tbody");
    if (!this.items.length) {
      body.append(
        h("tr", null, h("td", { colspan: 4, class: "muted", text: "No ticket type yet." })),
      );
    }
    for (const t of this.items) {
      body.append(
        h(
          "tr",
          { dataset: { id: t.id } },
          h("td", { text: t.name }),
          h("td", { text: KINDS.find(([k]) => k === t.kind)?.[1] ?? t.kind }),
          h("td", {
            text:
              (t.attributes ?? [])
                .map((a) => `${a.label}${a.required ? " *" : ""} (${a.type})`)
                .join(", ") || "—",
          }),
          h(
            "td",
            { class: "actions" },
            h("button", {
              type: "button",
              class: "btn small ghost",
              text: "Edit",
              onclick: () => this.#startEdit(t),
            }),
          ),
        ),
      );
    }
    table.append(body);
    root.append(table, this.#form());
  }

  #form() {
    const type = this.editing;
    const name = h("input", {
      class: "input",
      id: "tt-name",
      name: "name",
      value: type?.name ?? "",
      maxlength: 100,
    });
    const kind = h(
      "select",
      { class: "input", id: "tt-kind", name: "kind", disabled: Boolean(type) },
      KINDS.map(([k, label]) =>
        h("option", { value: k, text: label, selected: k === (type?.kind ?? "backoffice") }),
      ),
    );
    const attrs = h("div", { class: "attr-editor" });
    const paint = () => {
      clear(attrs);
      if (!this.rows.length)
        attrs.append(
          h("p", {
            class: "muted small",
            text: "No attributes: tickets of this type have a title and a description only.",
          }),
        );
      this.rows.forEach((row, i) => attrs.append(this.#attrRow(row, i, paint)));
    };
    paint();
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h(
      "form",
      { class: "admin-form wide", novalidate: true },
      h("h3", { text: type ? `Edit ${type.name}` : "Add a ticket type" }),
      h(
        "div",
        { class: "field-row" },
        h(
          "div",
          { class: "field" },
          h("label", { class: "field-label", for: "tt-name", text: "Name" }),
          name,
        ),
        h(
          "div",
          { class: "field" },
          h("label", { class: "field-label", for: "tt-kind", text: "Kind" }),
          kind,
        ),
      ),
      h("div", { class: "field-label", text: "Attributes" }),
      attrs,
      h("button", {
        type: "button",
        class: "btn small",
        text: "+ Add attribute",
        onclick: () => {
          this.rows.push({
            key: "",
            label: "",
            type: "text",
            required: false,
            choicesText: "",
            keyTouched: false,
          });
          paint();
          attrs.querySelector(".attr-row:last-child input")?.focus();
        },
      }),
      error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: type ? "Save" : "Add" }),
        type
          ? h("button", {
              type: "button",
              class: "btn ghost",
              text: "Cancel",
              onclick: () => this.#startEdit(null),
            })
          : null,
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      const problem = this.#check(name.value);
      if (problem) {
        error.textContent = problem;
        return;
      }
      const attributes = this.rows.map((r) => {
        const a = {
          key: r.key,
          label: r.label.trim(),
          type: r.type,
          required: Boolean(r.required),
        };
        if (r.type === "choice") a.choices = splitList(r.choicesText);
        return a;
      });
      const data = { name: name.value.trim(), attributes };
      try {
        if (type) await api(`/ticket-types/${type.id}`, { method: "PATCH", json: data });
        else await api("/ticket-types", { method: "POST", json: { ...data, kind: kind.value } });
        forgetTypes();
        toast(type ? "Saved." : "Added.");
        await this.load();
      } catch (err) {
        error.textContent = describe(err);
      }
    });
    return form;
  }

  #attrRow(row, i, paint) {
    const label = h("input", {
      class: "input small",
      value: row.label,
      placeholder: "Label, e.g. Order number",
      "aria-label": `Attribute ${i + 1} label`,
      oninput: () => {
        row.label = label.value;
        if (!row.keyTouched) {
          row.key = keyOf(label.value);
          key.value = row.key;
        }
      },
    });
    const key = h("input", {
      class: "input small mono",
      value: row.key,
      placeholder: "key",
      "aria-label": `Attribute ${i + 1} key`,
      disabled: Boolean(
        this.editing &&
        row.keyTouched &&
        (this.editing.attributes ?? []).some((a) => a.key === row.key),
      ),
      title: "Lower-case letters, digits and _; how the value is stored",
      oninput: () => {
        row.key = key.value.trim();
        row.keyTouched = true;
      },
    });
    const choices = h("input", {
      class: "input small",
      value: row.choicesText,
      placeholder: "Choices, comma separated",
      "aria-label": `Attribute ${i + 1} choices`,
      hidden: row.type !== "choice",
      oninput: () => (row.choicesText = choices.value),
    });
    const type = h(
      "select",
      {
        class: "input small",
        "aria-label": `Attribute ${i + 1} type`,
        onchange: () => {
          row.type = type.value;
          choices.hidden = row.type !== "choice";
        },
      },
      TYPES.map(([v, text]) => h("option", { value: v, text, selected: v === row.type })),
    );
    const move = (to) => {
      if (to < 0 || to >= this.rows.length) return;
      const [r] = this.rows.splice(i, 1);
      this.rows.splice(to, 0, r);
      paint();
    };
    return h(
      "div",
      { class: "attr-row" },
      label,
      key,
      type,
      h(
        "label",
        { class: "check-item" },
        h("input", {
          type: "checkbox",
          checked: Boolean(row.required),
          "aria-label": `Attribute ${i + 1} required`,
          onchange: (e) => (row.required = e.target.checked),
        }),
        " required",
      ),
      h(
        "span",
        { class: "attr-tools" },
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "↑",
          "aria-label": "Move up",
          disabled: i === 0,
          onclick: () => move(i - 1),
        }),
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "↓",
          "aria-label": "Move down",
          disabled: i === this.rows.length - 1,
          onclick: () => move(i + 1),
        }),
        h("button", {
          type: "button",
          class: "btn small ghost danger",
          text: "×",
          "aria-label": `Remove attribute ${i + 1}`,
          onclick: () => {
            this.rows.splice(i, 1);
            paint();
          },
        }),
      ),
      choices,
    );
  }

  #check(name) {
    if (!name.trim()) return "Give the type a name.";
    const keys = new Set();
    for (const [i, r] of this.rows.entries()) {
      const where = `Attribute ${i + 1}`;
      if (!r.label.trim()) return `${where} needs a label.`;
      if (!KEY.test(r.key))
        return `${where}: the key is lower-case letters, digits and _, starting with a letter.`;
      if (keys.has(r.key)) return `${where}: the key ${r.key} is used twice.`;
      keys.add(r.key);
      if (r.type === "choice" && !splitList(r.choicesText).length)
        return `${where} is a choice: list the choices.`;
    }
    return null;
  }
}

function keyOf(label) {
  const key = label
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^[^a-z]+/, "")
    .replace(/_+$/, "")
    .slice(0, 40);
  return key;
}
