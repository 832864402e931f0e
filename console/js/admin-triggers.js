// Settings → Triggers: when a ticket or a message is created and every condition holds, the
// actions run (assign a group or an agent, add labels, set the priority, send a company
// canned response). Listed in the order they run, reordered with ↑ ↓, edited row by row.

import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { toast } from "./toast.js";

const ON = [
  ["ticket_created", "A ticket is created"],
  ["message_created", "A customer message arrives"],
];
const FIELDS = [
  ["site", "Site"],
  ["page_url", "Page URL"],
  ["email_domain", "E-mail domain"],
  ["language", "Language"],
  ["first_message", "First message"],
  ["business_hours", "Business hours"],
];
const OPS = [
  ["is", "is"],
  ["is_not", "is not"],
  ["contains", "contains"],
  ["not_contains", "does not contain"],
];
const ACTIONS = [
  ["assign_group", "Assign to group"],
  ["assign_agent", "Assign to agent"],
  ["add_labels", "Add labels"],
  ["set_priority", "Set priority"],
  ["send_canned", "Send canned response"],
];
const PRIORITIES = ["low", "normal", "high", "urgent"];

const label = (pairs, key) => pairs.find(([k]) => k === key)?.[1] ?? key;

export class TriggersPage {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.items = [];
    this.editing = null;
    this.lookups = { groups: [], agents: [], sites: [], canned: [] };
  }

  async load() {
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", { class: "muted", text: "Loading…" }),
    );
    try {
      this.items = (await api("/triggers", { query: { limit: 100 } }))?.items ?? [];
    } catch (err) {
      clear(this.root).append(
        h("h2", { text: this.page.title }),
        h("p", {
          class: err.missing ? "notice" : "notice error",
          text: err.missing
            ? `Triggers: ${describe(err)} This page works once it does.`
            : describe(err),
        }),
      );
      return;
    }
    this.items.sort((a, b) => (a.position ?? 0) - (b.position ?? 0) || a.id - b.id);
    await this.#lookups();
    this.#edit(null);
  }

  async #lookups() {
    const get = async (path, query = {}) => {
      try {
        return (await api(path, { query: { limit: 100, ...query } }))?.items ?? [];
      } catch {
        return [];
      }
    };
    const [groups, agents, sites, canned] = await Promise.all([
      get("/groups"),
      get("/agents"),
      get("/sites"),
      get("/canned", { scope: "company" }),
    ]);
    this.lookups = {
      groups,
      agents,
      sites,
      canned: canned.filter((c) => !c.scope || c.scope === "company"),
    };
  }

  #edit(trigger) {
    this.editing = trigger;
    this.conditions = (trigger?.conditions ?? []).map((c) => ({ ...c }));
    this.actions = (trigger?.actions ?? [{ type: "assign_group", value: null }]).map((a) => ({
      ...a,
    }));
    this.render();
  }

  #describeValue(field, value) {
    if (field === "site" && typeof value === "number")
      return this.lookups.sites.find((s) => s.id === value)?.name ?? `site #${value}`;
    if (field === "assign_group")
      return this.lookups.groups.find((g) => g.id === value)?.name ?? `group #${value}`;
    if (field === "assign_agent")
      return this.lookups.agents.find((a) => a.id === value)?.name ?? `agent #${value}`;
    if (field === "send_canned")
      return this.lookups.canned.find((c) => c.id === value)?.title ?? `canned #${value}`;
    return Array.isArray(value) ? value.join(", ") : String(value ?? "");
  }

  render() {
    const table = h(
      "table",
      { class: "table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["#", "Name", "When", "If", "Then", "Active"].map((t) => h("th", { text: t })),
          h("th", { class: "actions" }),
        ),
      ),
    );
    const body = h("tbody");
    if (!this.items.length)
      body.append(h("tr", null, h("td", { colspan: 7, class: "muted", text: "No trigger yet." })));
    this.items.forEach((t, i) => {
      body.append(
        h(
          "tr",
          { dataset: { id: t.id }, class: t.active ? "" : "inactive" },
          h("td", { text: i + 1 }),
          h("td", { text: t.name }),
          h("td", { text: label(ON, t.on) }),
          h("td", {
            text:
              (t.conditions ?? [])
                .map(
                  (c) =>
                    `${label(FIELDS, c.field)} ${label(OPS, c.op)} ${this.#describeValue(c.field, c.value)}`,
                )
                .join("; ") || "always",
          }),
          h("td", {
            text: (t.actions ?? [])
              .map((a) => `${label(ACTIONS, a.type)}: ${this.#describeValue(a.type, a.value)}`)
              .join("; "),
          }),
          h("td", { text: t.active ? "yes" : "no" }),
          h(
            "td",
            { class: "actions" },
            h("button", {
              type: "button",
              class: "btn small ghost",
              text: "↑",
              "aria-label": `Run ${t.name} earlier`,
              disabled: i === 0,
              onclick: () => this.#swap(i, i - 1),
            }),
            h("button", {
              type: "button",
              class: "btn small ghost",
              text: "↓",
              "aria-label": `Run ${t.name} later`,
              disabled: i === this.items.length - 1,
              onclick: () => this.#swap(i, i + 1),
            }),
            h("button", {
              type: "button",
              class: "btn small ghost",
              text: "Edit",
              onclick: () => this.#edit(t),
            }),
            h("button", {
              type: "button",
              class: "btn small ghost danger",
              text: "Delete",
              onclick: () => this.#remove(t),
            }),
          ),
        ),
      );
    });
    table.append(body);
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", {
        class: "muted intro",
        text: "Triggers run top to bottom, each at most once per event; all of a trigger's conditions must hold.",
      }),
      table,
      this.#form(),
    );
  }

  async #swap(i, j) {
    const a = this.items[i];
    const b = this.items[j];
    let pa = a.position ?? i + 1;
    let pb = b.position ?? j + 1;
    if (pa === pb) pb = pa + (j > i ? 1 : -1);
    try {
      await api(`/triggers/${a.id}`, { method: "PATCH", json: { position: pb } });
      await api(`/triggers/${b.id}`, { method: "PATCH", json: { position: pa } });
      await this.load();
    } catch (err) {
      toast(`Could not reorder: ${describe(err)}`, { kind: "error" });
    }
  }

  async #remove(t) {
    if (!confirm(`Delete the trigger “${t.name}”?`)) return;
    try {
      await api(`/triggers/${t.id}`, { method: "DELETE" });
      toast("Deleted.");
      await this.load();
    } catch (err) {
      toast(`Could not delete: ${describe(err)}`, { kind: "error" });
    }
  }

  #form() {
    const t = this.editing;
    const name = h("input", {
      class: "input",
      id: "tr-name",
      value: t?.name ?? "",
      maxlength: 200,
    });
    const on = h(
      "select",
      { class: "input", id: "tr-on" },
      ON.map(([k, text]) =>
        h("option", { value: k, text, selected: k === (t?.on ?? "ticket_created") }),
      ),
    );
    const active = h("input", {
      type: "checkbox",
      id: "tr-active",
      checked: t ? Boolean(t.active) : true,
    });
    const conditions = h("div", { class: "rule-rows" });
    const actions = h("div", { class: "rule-rows" });
    const paint = () => {
      clear(conditions);
      if (!this.conditions.length)
        conditions.append(h("p", { class: "muted small", text: "No condition: runs every time." }));
      this.conditions.forEach((c, i) => conditions.append(this.#conditionRow(c, i, paint)));
      clear(actions);
      this.actions.forEach((a, i) => actions.append(this.#actionRow(a, i, paint)));
    };
    paint();
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h(
      "form",
      { class: "admin-form wide", novalidate: true },
      h("h3", { text: t ? `Edit ${t.name}` : "Add a trigger" }),
      h(
        "div",
        { class: "field-row" },
        h(
          "div",
          { class: "field" },
          h("label", { class: "field-label", for: "tr-name", text: "Name" }),
          name,
        ),
        h(
          "div",
          { class: "field" },
          h("label", { class: "field-label", for: "tr-on", text: "When" }),
          on,
        ),
      ),
      h(
        "div",
        { class: "field check" },
        active,
        h("label", { class: "field-label", for: "tr-active", text: "Active" }),
      ),
      h("div", { class: "field-label", text: "If all of these hold" }),
      conditions,
      h("button", {
        type: "button",
        class: "btn small",
        text: "+ Condition",
        onclick: () => {
          this.conditions.push({ field: "page_url", op: "contains", value: "" });
          paint();
        },
      }),
      h("div", { class: "field-label spaced", text: "Then" }),
      actions,
      h("button", {
        type: "button",
        class: "btn small",
        text: "+ Action",
        onclick: () => {
          this.actions.push({ type: "add_labels", value: [] });
          paint();
        },
      }),
      error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: t ? "Save" : "Add" }),
        t
          ? h("button", {
              type: "button",
              class: "btn ghost",
              text: "Cancel",
              onclick: () => this.#edit(null),
            })
          : null,
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      if (!name.value.trim()) {
        error.textContent = "Give the trigger a name.";
        return;
      }
      if (!this.actions.length) {
        error.textContent = "A trigger needs at least one action.";
        return;
      }
      const data = {
        name: name.value.trim(),
        on: on.value,
        active: active.checked,
        conditions: this.conditions.map((c) => ({ field: c.field, op: c.op, value: c.value })),
        actions: this.actions.map((a) => ({ type: a.type, value: a.value })),
      };
      try {
        if (t) await api(`/triggers/${t.id}`, { method: "PATCH", json: data });
        else await api("/triggers", { method: "POST", json: data });
        toast(t ? "Saved." : "Added.");
        await this.load();
      } catch (err) {
        error.textContent = describe(err);
      }
    });
    return form;
  }

  #conditionRow(c, i, paint) {
    const field = h(
      "select",
      { class: "input small", "aria-label": `Condition ${i + 1} field` },
      FIELDS.map(([k, text]) => h("option", { value: k, text, selected: k === c.field })),
    );
    const ops =
      c.field === "business_hours" || (c.field === "site" && typeof c.value === "number")
        ? OPS.slice(0, 2)
        : OPS;
    const op = h(
      "select",
      { class: "input small", "aria-label": `Condition ${i + 1} operator` },
      ops.map(([k, text]) => h("option", { value: k, text, selected: k === c.op })),
    );
    let value;
    if (c.field === "business_hours") {
      value = h(
        "select",
        { class: "input small", "aria-label": `Condition ${i + 1} value` },
        [
          ["open", "open"],
          ["closed", "closed"],
        ].map(([k, text]) => h("option", { value: k, text, selected: k === c.value })),
      );
      if (!["open", "closed"].includes(c.value)) c.value = "open";
      value.addEventListener("change", () => (c.value = value.value));
    } else if (c.field === "site") {
      value = h(
        "select",
        { class: "input small", "aria-label": `Condition ${i + 1} value` },
        this.lookups.sites.map((s) =>
          h("option", { value: s.id, text: s.name, selected: s.id === c.value }),
        ),
      );
      if (typeof c.value !== "number" && this.lookups.sites[0]) c.value = this.lookups.sites[0].id;
      value.addEventListener("change", () => (c.value = Number(value.value)));
    } else {
      value = h("input", {
        class: "input small",
        value: typeof c.value === "string" ? c.value : "",
        "aria-label": `Condition ${i + 1} value`,
        placeholder: c.field === "email_domain" ? "example.com" : "",
      });
      if (typeof c.value !== "string") c.value = "";
      value.addEventListener("input", () => (c.value = value.value));
    }
    field.addEventListener("change", () => {
      c.field = field.value;
      c.value = "";
      if (c.field === "business_hours" || c.field === "site") c.op = "is";
      paint();
    });
    op.addEventListener("change", () => (c.op = op.value));
    return h(
      "div",
      { class: "rule-row" },
      field,
      op,
      value,
      removeButton(
        () => {
          this.conditions.splice(i, 1);
          paint();
        },
        `Remove condition ${i + 1}`,
      ),
    );
  }

  #actionRow(a, i, paint) {
    const type = h(
      "select",
      { class: "input small", "aria-label": `Action ${i + 1}` },
      ACTIONS.map(([k, text]) => h("option", { value: k, text, selected: k === a.type })),
    );
    type.addEventListener("change", () => {
      a.type = type.value;
      a.value = null;
      paint();
    });
    const pick = (options, current, parse = Number) => {
      const sel = h(
        "select",
        { class: "input small", "aria-label": `Action ${i + 1} value` },
        options.map(([k, text]) =>
          h("option", { value: k, text, selected: String(k) === String(current) }),
        ),
      );
      if (current == null && options[0]) a.value = parse(options[0][0]);
      sel.addEventListener("change", () => (a.value = parse(sel.value)));
      return options.length
        ? sel
        : h("span", { class: "muted small", text: "none to choose from" });
    };
    let value;
    if (a.type === "assign_group")
      value = pick(
        this.lookups.groups.map((g) => [g.id, g.name]),
        a.value,
      );
    else if (a.type === "assign_agent")
      value = pick(
        this.lookups.agents.filter((x) => x.active !== false).map((x) => [x.id, x.name]),
        a.value,
      );
    else if (a.type === "send_canned")
      value = pick(
        this.lookups.canned.map((c) => [c.id, c.title || c.shortcut]),
        a.value,
      );
    else if (a.type === "set_priority")
      value = pick(
        PRIORITIES.map((p) => [p, p]),
        a.value,
        String,
      );
    else {
      const text = Array.isArray(a.value) ? a.value.join(", ") : "";
      if (!Array.isArray(a.value)) a.value = [];
      value = h("input", {
        class: "input small",
        value: text,
        placeholder: "labels, comma separated",
        "aria-label": `Action ${i + 1} labels`,
        oninput: (e) =>
          (a.value = e.target.value
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean)),
      });
    }
    return h(
      "div",
      { class: "rule-row" },
      type,
      value,
      removeButton(
        () => {
          this.actions.splice(i, 1);
          paint();
        },
        `Remove action ${i + 1}`,
      ),
    );
  }
}

function removeButton(onclick, name) {
  return h("button", {
    type: "button",
    class: "btn small ghost danger",
    text: "×",
    "aria-label": name,
    onclick,
  });
}
