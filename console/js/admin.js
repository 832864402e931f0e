// Settings and admin pages: agents, groups, sites, labels, company canned responses and
// knowledge base articles, banned words, companies and webhooks for admins; personal canned
// responses for every agent. Each page is one resource described below, listed, created and
// edited against the contract's REST. Pages with a `view` have a module of their own: ticket
// types, service levels, triggers and reports.

import { api, describe } from "./api.js";
import { $, clear, h } from "./dom.js";
import { isAdmin, learnAgent, state } from "./state.js";
import { errorToast, toast } from "./toast.js";
import { agoLong, full } from "./time.js";
import { shortcutText } from "./canned.js";
import { TicketTypesPage } from "./admin-types.js";
import { SlaPage } from "./admin-sla.js";
import { ClassificationPage } from "./admin-classification.js";
import { TriggersPage } from "./admin-triggers.js";
import { ReportsPage } from "./reports.js";

const list = (v) => (Array.isArray(v) ? v.join(", ") : (v ?? ""));
const yes = (v) => (v === true ? "yes" : v === false ? "no" : "");
export const splitList = (v) =>
  String(v ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * A page: path, columns [field, title, format?], fields for the form
 * {name, label, type: text|email|password|textarea|select|checkbox|number|list, options?,
 *  create?: only when creating, required?}, `editable` (PATCH) and `deletable` (DELETE).
 */
export const PAGES = [
  {
    key: "canned-mine",
    title: "My canned responses",
    path: "/canned",
    query: { scope: "personal" },
    fixed: { scope: "personal" },
    filter: (item) => !item.scope || item.scope === "personal",
    columns: [
      ["shortcut", "Shortcut", (v) => (v ? shortcutText(v) : "")],
      ["title", "Title"],
      ["body", "Text"],
    ],
    fields: [
      {
        name: "shortcut",
        label: "Shortcut",
        type: "shortcut",
        required: true,
        hint: "Like /refund: type it at the start of the composer",
      },
      { name: "title", label: "Title", required: true },
      {
        name: "body",
        label: "Text",
        type: "textarea",
        required: true,
        hint: "{{customer.name}} and {{agent.name}} are filled in",
      },
    ],
    editable: true,
    deletable: true,
  },
  {
    key: "agents",
    title: "Agents",
    admin: true,
    path: "/agents",
    columns: [
      ["name", "Name"],
      ["email", "E-mail"],
      ["role", "Role"],
      ["active", "Active", yes],
    ],
    fields: [
      { name: "name", label: "Name", required: true },
      { name: "email", label: "E-mail", type: "email", required: true },
      { name: "role", label: "Role", type: "select", options: ["agent", "admin"] },
      {
        name: "password",
        label: "Password",
        type: "password",
        required: true,
        hint: "When editing: leave empty to keep it",
      },
      { name: "active", label: "Active", type: "checkbox", edit: true },
    ],
    editable: true,
  },
  {
    key: "groups",
    title: "Groups",
    admin: true,
    path: "/groups",
    columns: [
      ["name", "Name"],
      [
        "agents",
        "Agents",
        (v) => (v ?? []).map((id) => state.agents.get(id)?.name ?? `#${id}`).join(", "),
      ],
      ["round_robin", "Round robin", yes],
      ["max_open_per_agent", "Max open"],
    ],
    fields: [
      { name: "name", label: "Name", required: true },
      { name: "agents", label: "Agents", type: "agents" },
      { name: "round_robin", label: "Round robin", type: "checkbox" },
      { name: "max_open_per_agent", label: "Max open chats per agent", type: "number" },
    ],
    editable: true,
  },
  {
    key: "sites",
    title: "Sites",
    admin: true,
    path: "/sites",
    columns: [
      ["name", "Name"],
      ["key", "Site key"],
      ["origins", "Allowed origins", list],
    ],
    fields: [
      { name: "name", label: "Name", required: true },
      {
        name: "origins",
        label: "Allowed origins",
        type: "list",
        hint: "Comma separated, e.g. https://shop.example",
      },
      {
        name: "rotate_identity_secret",
        label: "Rotate the identity secret",
        type: "checkbox",
        edit: true,
      },
    ],
    editable: true,
    extraRow: (item) =>
      item.key
        ? [
            h("code", {
              text: `<script src="${location.origin}/widget.js" data-site="${item.key}" async></script>`,
            }),
            item.identity_secret
              ? h(
                  "div",
                  { class: "muted small" },
                  "Identity secret: ",
                  h("code", { text: item.identity_secret }),
                )
              : null,
          ]
        : null,
  },
  {
    key: "labels",
    title: "Labels",
    admin: true,
    path: "/labels",
    columns: [
      ["name", "Name"],
      ["tickets", "Tickets"],
    ],
    fields: [{ name: "name", label: "Name", required: true }],
    editable: true,
    deletable: true,
  },
  {
    key: "canned-company",
    title: "Company canned responses",
    admin: true,
    path: "/canned",
    query: { scope: "company" },
    fixed: { scope: "company" },
    filter: (item) => !item.scope || item.scope === "company",
    columns: [
      ["shortcut", "Shortcut", (v) => (v ? shortcutText(v) : "")],
      ["title", "Title"],
      ["body", "Text"],
    ],
    fields: [
      {
        name: "shortcut",
        label: "Shortcut",
        type: "shortcut",
        required: true,
        hint: "Like /refund",
      },
      { name: "title", label: "Title", required: true },
      {
        name: "body",
        label: "Text",
        type: "textarea",
        required: true,
        hint: "{{customer.name}} and {{agent.name}} are filled in",
      },
    ],
    editable: true,
    deletable: true,
  },
  {
    key: "kb",
    title: "Knowledge base",
    admin: true,
    path: "/kb/articles",
    columns: [
      ["title", "Title"],
      ["slug", "Page", (v) => (v ? `/kb/${v}` : "")],
      ["published", "Published", yes],
      ["updated_at", "Updated", agoLong],
    ],
    fetchOne: true,
    fields: [
      { name: "title", label: "Title", required: true },
      {
        name: "slug",
        label: "Slug",
        hint: "The public page is /kb/slug; made from the title when empty",
      },
      { name: "body", label: "Text (Markdown)", type: "textarea", required: true },
      { name: "published", label: "Published", type: "checkbox" },
    ],
    editable: true,
    deletable: true,
  },
  { key: "ticket-types", title: "Ticket types", admin: true, view: TicketTypesPage },
  {
    key: "banned-words",
    title: "Banned words",
    admin: true,
    path: "/banned-words",
    intro:
      "A reply containing one of these is held back until the agent confirms sending it anyway.",
    columns: [["word", "Word or phrase"]],
    fields: [{ name: "word", label: "Word or phrase", required: true }],
    deletable: true,
  },
  { key: "sla", title: "Service levels", admin: true, view: SlaPage },
  {
    key: "classification",
    title: "Categories and services",
    admin: true,
    view: ClassificationPage,
  },
  {
    key: "companies",
    title: "Companies",
    admin: true,
    path: "/companies",
    intro: "Customers belong to a company; its details can be copied into back-office tickets.",
    columns: [
      ["name", "Name"],
      ["domain", "Domain"],
    ],
    fields: [
      { name: "name", label: "Name", required: true },
      { name: "domain", label: "Domain", hint: "e.g. example.com: customers with it belong here" },
    ],
    editable: true,
  },
  { key: "triggers", title: "Triggers", admin: true, view: TriggersPage },
  {
    key: "webhooks",
    title: "Webhooks",
    admin: true,
    path: "/webhooks",
    intro:
      "Each event is POSTed as JSON, signed with X-Chatdesk-Signature: sha256=HMAC of " +
      "timestamp.body under the secret; failed deliveries are retried.",
    columns: [
      ["url", "URL"],
      ["events", "Events", list],
      ["active", "Active", yes],
    ],
    fields: [
      { name: "url", label: "URL", required: true, hint: "https://… that answers 2xx" },
      {
        name: "events",
        label: "Events",
        type: "list",
        hint: "Comma separated: ticket.created, message, note, status, assigned… (empty: all)",
      },
      {
        name: "secret",
        label: "Secret",
        hint: "Signs each delivery; leave empty to keep it (or to have one made)",
        keepEmpty: true,
      },
      { name: "active", label: "Active", type: "checkbox", checkedByDefault: true },
    ],
    editable: true,
    deletable: true,
    extraRow: (item) =>
      item.secret
        ? h("div", { class: "muted small" }, "Secret: ", h("code", { text: item.secret }))
        : null,
    rowActions: [["Deliveries", (item, page) => page.deliveries(item)]],
  },
  { key: "reports", title: "Reports", admin: true, view: ReportsPage },
];

export class Admin {
  constructor(root, { onClose }) {
    this.root = root;
    this.onClose = onClose;
    this.nav = $("#admin-nav", root);
    this.main = $("#admin-main", root);
    $("#admin-close", root).addEventListener("click", () => onClose());
    this.page = null;
  }

  pages() {
    return PAGES.filter((p) => !p.admin || isAdmin());
  }

  show(key) {
    const pages = this.pages();
    const page = pages.find((p) => p.key === key) ?? pages[0];
    this.page = page;
    clear(this.nav);
    for (const p of pages) {
      this.nav.append(
        h("a", {
          href: `#/settings/${p.key}`,
          class: "admin-link",
          "aria-current": p === page ? "page" : null,
          text: p.title,
        }),
      );
    }
    const View = page.view ?? ResourcePage;
    new View(this.main, page).load();
  }
}

class ResourcePage {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.items = [];
    this.cursor = null;
    this.editing = null;
  }

  async #loadAgents() {
    if (!this.page.fields.some((f) => f.type === "agents")) return;
    try {
      for (const a of (await api("/agents"))?.items ?? []) learnAgent(a);
    } catch {
      /* the checkboxes list the teammates seen so far */
    }
  }

  async load(more = false) {
    const page = this.page;
    if (!more) await this.#loadAgents();
    if (!more) {
      clear(this.root).append(
        h("h2", { text: page.title }),
        h("p", { class: "muted", text: "Loading…" }),
      );
    }
    try {
      const data = await api(page.path, {
        query: { ...page.query, limit: 100, cursor: more ? this.cursor : null },
      });
      const items = (data?.items ?? []).filter(page.filter ?? (() => true));
      this.items = more ? [...this.items, ...items] : items;
      this.cursor = data?.next_cursor ?? null;
      this.render();
    } catch (err) {
      clear(this.root).append(
        h("h2", { text: page.title }),
        h("p", {
          class: err.missing ? "notice" : "notice error",
          text: err.missing
            ? `${page.title}: ${describe(err)} This page works once it does.`
            : describe(err),
        }),
      );
    }
  }

  render() {
    const page = this.page;
    clear(this.root);
    this.root.append(h("h2", { text: page.title }));
    if (page.intro) this.root.append(h("p", { class: "muted intro", text: page.intro }));
    const table = h("table", { class: "table" });
    const head = h(
      "tr",
      null,
      page.columns.map(([, title]) => h("th", { text: title })),
      h("th", { class: "actions" }),
    );
    table.append(h("thead", null, head));
    const body = h("tbody");
    if (!this.items.length) {
      body.append(
        h(
          "tr",
          null,
          h("td", { colspan: page.columns.length + 1, class: "muted", text: "Nothing yet." }),
        ),
      );
    }
    for (const item of this.items) {
      body.append(
        h(
          "tr",
          { dataset: { id: item.id } },
          page.columns.map(([field, , format]) => {
            const value = format ? format(item[field]) : item[field];
            return h("td", { text: value == null ? "" : String(value).slice(0, 160) });
          }),
          h(
            "td",
            { class: "actions" },
            (page.rowActions ?? []).map(([label, run]) =>
              h("button", {
                type: "button",
                class: "btn small ghost",
                text: label,
                onclick: () => run(item, this),
              }),
            ),
            page.editable
              ? h("button", {
                  type: "button",
                  class: "btn small ghost",
                  text: "Edit",
                  onclick: () => this.edit(item),
                })
              : null,
            page.deletable
              ? h("button", {
                  type: "button",
                  class: "btn small ghost danger",
                  text: "Delete",
                  onclick: () => this.remove(item),
                })
              : null,
          ),
        ),
      );
      const extra = page.extraRow?.(item);
      if (extra) {
        body.append(
          h("tr", { class: "embed-row" }, h("td", { colspan: page.columns.length + 1 }, extra)),
        );
      }
      if (this.showing?.id === item.id) {
        body.append(
          h(
            "tr",
            { class: "embed-row" },
            h("td", { colspan: page.columns.length + 1 }, this.showing.el),
          ),
        );
      }
    }
    table.append(body);
    this.root.append(table);
    if (this.cursor) {
      this.root.append(
        h("button", {
          type: "button",
          class: "btn ghost",
          text: "Load more",
          onclick: () => this.load(true),
        }),
      );
    }
    this.root.append(this.#form());
  }

  async edit(item) {
    if (this.page.fetchOne) {
      try {
        item = { ...item, ...(await api(`${this.page.path}/${item.id}`)) };
      } catch (err) {
        errorToast(err, "Could not load it");
        return;
      }
    }
    this.editing = item;
    await this.#loadAgents();
    this.render();
    this.root.querySelector("form input, form textarea")?.focus();
  }

  /** A webhook's latest deliveries, under its row. */
  async deliveries(item) {
    if (this.showing?.id === item.id) {
      this.showing = null;
      this.render();
      return;
    }
    const box = h("div", { class: "deliveries" }, h("p", { class: "muted", text: "Loading…" }));
    this.showing = { id: item.id, el: box };
    this.render();
    try {
      const rows = (await api(`${this.page.path}/${item.id}/deliveries`))?.items ?? [];
      clear(box);
      if (!rows.length) {
        box.append(h("p", { class: "muted small", text: "Nothing delivered yet." }));
        return;
      }
      const table = h(
        "table",
        { class: "table compact" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Delivery", "Event", "Attempts", "Last answer", "Delivered"].map((t) =>
              h("th", { text: t }),
            ),
          ),
        ),
      );
      const tbody = h("tbody");
      for (const d of rows) {
        const ok = d.delivered_at != null;
        tbody.append(
          h(
            "tr",
            { class: ok ? "" : "failing" },
            h("td", null, h("code", { text: String(d.id).slice(0, 12) })),
            h("td", {
              text: typeof d.event === "object" ? (d.event?.kind ?? d.event?.type ?? "") : d.event,
            }),
            h("td", { text: d.attempts ?? "" }),
            h("td", { text: d.last_status ?? "no answer" }),
            h("td", {
              title: full(d.delivered_at),
              text: ok ? agoLong(d.delivered_at) : "not yet",
            }),
          ),
        );
      }
      table.append(tbody);
      box.append(table);
    } catch (err) {
      clear(box).append(h("p", { class: "notice error", text: describe(err) }));
    }
  }

  async remove(item) {
    if (
      !confirm(
        `Delete “${item.name ?? item.title ?? item.word ?? item.url ?? item.shortcut ?? item.id}”?`,
      )
    )
      return;
    try {
      await api(`${this.page.path}/${item.id}`, { method: "DELETE" });
      toast("Deleted.");
      this.load();
    } catch (err) {
      errorToast(err, "Could not delete");
    }
  }

  #form() {
    const page = this.page;
    const item = this.editing;
    const form = h("form", { class: "admin-form" });
    form.append(
      h("h3", {
        text: item
          ? `Edit ${item.name ?? item.title ?? item.word ?? item.url ?? item.shortcut ?? `#${item.id}`}`
          : "Add",
      }),
    );
    for (const f of page.fields) {
      if (f.create && item) continue;
      if (f.edit && !item) continue;
      const value = item?.[f.name];
      let input;
      if (f.type === "textarea") {
        input = h("textarea", {
          name: f.name,
          rows: 5,
          class: "input",
          required: f.required,
          value: value ?? "",
        });
      } else if (f.type === "select") {
        input = h(
          "select",
          { name: f.name, class: "input" },
          f.options.map((o) => h("option", { value: o, text: o, selected: o === value })),
        );
      } else if (f.type === "checkbox") {
        input = h("input", {
          name: f.name,
          type: "checkbox",
          checked: item ? Boolean(value) : Boolean(f.checkedByDefault),
        });
      } else if (f.type === "agents") {
        const chosen = new Set(value ?? []);
        input = h(
          "div",
          { class: "checks", dataset: { field: f.name } },
          Array.from(state.agents.values())
            .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""))
            .map((a) =>
              h(
                "label",
                { class: "check-item" },
                h("input", { type: "checkbox", value: a.id, checked: chosen.has(a.id) }),
                ` ${a.name ?? `#${a.id}`}`,
              ),
            ),
        );
      } else {
        const shown = f.type === "list" || f.type === "ids" ? list(value) : (value ?? "");
        input = h("input", {
          name: f.name,
          class: "input",
          type: ["email", "password", "number"].includes(f.type) ? f.type : "text",
          required: f.required && !(f.type === "password" && item),
          minlength: f.type === "password" && !item ? 10 : null,
          value: shown,
          autocomplete: f.type === "password" ? "new-password" : "off",
        });
      }
      const id = `f-${page.key}-${f.name}`;
      const hintId = f.hint ? `${id}-hint` : null;
      if (f.type === "agents") input.setAttribute("aria-labelledby", `${id}-label`);
      else input.id = id;
      if (hintId) input.setAttribute("aria-describedby", hintId);
      form.append(
        h(
          "div",
          { class: f.type === "checkbox" ? "field check" : "field" },
          f.type === "checkbox" ? input : null,
          h(f.type === "agents" ? "span" : "label", {
            class: "field-label",
            for: f.type === "agents" ? null : id,
            id: `${id}-label`,
            text: f.label,
          }),
          f.type === "checkbox" ? null : input,
          f.hint ? h("span", { class: "field-hint", id: hintId, text: f.hint }) : null,
        ),
      );
    }
    const error = h("p", { class: "form-error", role: "alert" });
    form.append(
      error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: item ? "Save" : "Add" }),
        item
          ? h("button", {
              type: "button",
              class: "btn ghost",
              text: "Cancel",
              onclick: () => {
                this.editing = null;
                this.render();
              },
            })
          : null,
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = { ...(item ? {} : page.fixed) };
      for (const f of page.fields) {
        if (f.type === "agents") {
          const boxes = form.querySelectorAll(`[data-field="${f.name}"] input:checked`);
          data[f.name] = Array.from(boxes, (b) => Number(b.value));
          continue;
        }
        const el = form.elements.namedItem(f.name);
        if (!el) continue;
        if (f.type === "checkbox") data[f.name] = el.checked;
        else if (f.type === "list") data[f.name] = splitList(el.value);
        else if (f.type === "ids")
          data[f.name] = splitList(el.value).map(Number).filter(Number.isInteger);
        else if (f.type === "number") data[f.name] = el.value === "" ? null : Number(el.value);
        else if (f.type === "shortcut") data[f.name] = shortcutText(el.value.trim().toLowerCase());
        else if (el.value !== "" || item) data[f.name] = el.value;
        if ((f.type === "password" || f.keepEmpty) && !el.value) delete data[f.name];
        if (f.edit && f.type === "checkbox" && !el.checked && f.name.startsWith("rotate"))
          delete data[f.name];
      }
      try {
        if (item) await api(`${page.path}/${item.id}`, { method: "PATCH", json: data });
        else await api(page.path, { method: "POST", json: data });
        toast(item ? "Saved." : "Added.");
        this.editing = null;
        this.load();
      } catch (err) {
        error.textContent = describe(err);
      }
    });
    return form;
  }
}
