// Making tickets by hand (POST /api/v1/tickets): a customer inquiry that came by phone or
// e-mail, or a back-office or tracker ticket of a type, with the type's attributes (required
// ones marked and checked before anything is sent). Opened from a chat's sidebar, the form
// links that chat and can copy the conversation's, customer's and company's details into
// the description.

import { api, describe } from "./api.js";
import { append, clear, h } from "./dom.js";
import { Modal } from "./modal.js";
import { KINDS, customerName, loadPeople, state, upsert } from "./state.js";
import { full } from "./time.js";
import { toast } from "./toast.js";
import { loadTypes } from "./types.js";

const CHANNELS = [
  ["phone", "Phone call"],
  ["email", "E-mail"],
  ["other", "Other (letter, in person…)"],
  ["chat", "Chat"],
];
const PRIORITIES = ["low", "normal", "high", "urgent"];
let seq = 0;

export class CreateTicket {
  constructor({ go, conversation, details }) {
    this.go = go;
    this.conversation = conversation;
    this.details = details;
    this.modal = new Modal({ title: "New ticket", className: "wide create-dialog" });
    this.kind = "backoffice";
    this.from = null; // the customer ticket the form was opened from
    this.types = { items: [], error: null };
    this.groups = null;
    this.busy = false;
  }

  /** kind: "customer" | "backoffice" | "tracker"; from: a ticket to link. */
  async open({ kind = "backoffice", from = null } = {}) {
    this.kind = kind;
    this.from = from;
    this.modal.setTitle(from ? `New back-office ticket for #${from.id}` : "New ticket");
    this.#render({ loading: true });
    this.modal.show();
    const [types, groups] = await Promise.all([loadTypes(true), loadPeople()]);
    this.types = types;
    this.groups = groups;
    this.#render({});
  }

  // ---------------------------------------------------------------- the form

  #render({ loading = false }) {
    const body = clear(this.modal.body);
    const form = h("form", { class: "create-form", novalidate: true });
    this.form = form;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    if (!this.from) {
      const kinds = h("div", {
        class: "segmented kinds",
        role: "radiogroup",
        "aria-label": "Kind",
      });
      for (const [key, label] of [
        ["customer", "Customer inquiry"],
        ["backoffice", "Back office"],
        ["tracker", "Tracker"],
      ]) {
        kinds.append(
          h("button", {
            type: "button",
            class: "seg",
            role: "radio",
            "aria-checked": String(this.kind === key),
            "aria-pressed": String(this.kind === key),
            text: label,
            onclick: () => {
              this.kind = key;
              this.#render({});
            },
          }),
        );
      }
      form.append(kinds);
    }
    if (loading) {
      form.append(h("p", { class: "muted", text: "Loading…" }));
      body.append(form);
      return;
    }
    if (this.kind === "customer") this.#customerFields(form);
    else this.#typedFields(form);
    this.#peopleFields(form);
    this.error = h("p", { class: "form-error", role: "alert" });
    form.append(
      this.error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: "Create" }),
        h("button", {
          type: "button",
          class: "btn ghost",
          text: "Cancel",
          onclick: () => this.modal.close(),
        }),
      ),
    );
    body.append(form);
    form.querySelector("select:not([disabled]), input, textarea")?.focus();
  }

  #customerFields(form) {
    form.append(
      h(
        "p",
        { class: "muted small" },
        "An inquiry that did not come through the chat: it becomes a customer ticket with the ",
        "customer's words as its first message.",
      ),
      field("Channel", select("channel", CHANNELS, "phone")),
      h(
        "div",
        { class: "field-row" },
        field("Customer name", input("customer_name", { autocomplete: "off" })),
        field("Phone", input("customer_phone", { type: "tel", autocomplete: "off" })),
      ),
      field("Customer e-mail", input("customer_email", { type: "email", autocomplete: "off" }), {
        hint: "A name, a phone number or an e-mail address is needed.",
      }),
      field("Title", input("title", { maxlength: 200 }), { required: true }),
      field(
        "What the customer asked",
        h("textarea", { class: "input", name: "body", rows: 5, maxlength: 10000 }),
        { required: true },
      ),
    );
  }

  #typedFields(form) {
    const kindName = KINDS[this.kind].toLowerCase();
    const types = this.types.items.filter((t) => t.kind === this.kind);
    if (this.types.error) {
      form.append(h("p", { class: "notice error", text: this.types.error }));
    } else if (!types.length) {
      form.append(
        h("p", {
          class: "notice",
          text: `There is no ${kindName} ticket type yet. An admin adds them in Settings → Ticket types.`,
        }),
      );
    }
    if (this.from) {
      form.append(
        h(
          "p",
          { class: "link-note" },
          "Linked to ",
          h("strong", { text: `#${this.from.id}` }),
          ` (${customerName(this.from)}); the ticket shows in its sidebar.`,
        ),
      );
    }
    const typeSelect = select(
      "type",
      types.map((t) => [String(t.id), t.name]),
      types.length === 1 ? String(types[0].id) : "",
      types.length === 1 ? null : "Choose a type…",
    );
    typeSelect.disabled = !types.length;
    const attrBox = h("div", { class: "attr-fields" });
    const paint = () => {
      clear(attrBox);
      const type = types.find((t) => String(t.id) === typeSelect.value);
      for (const a of type?.attributes ?? []) attrBox.append(attributeField(a));
    };
    typeSelect.addEventListener("change", () => {
      paint();
      markValid(typeSelect);
    });
    paint();
    form.append(
      field("Type", typeSelect, { required: true }),
      field("Title", input("title", { maxlength: 200, value: this.#defaultTitle() }), {
        required: true,
      }),
      attrBox,
    );
    const description = h("textarea", {
      class: "input",
      name: "description",
      rows: 6,
      maxlength: 20000,
      placeholder: "What the back office needs to know (Markdown)",
    });
    const copy = this.from
      ? h(
          "div",
          { class: "copy-bar", role: "group", "aria-label": "Copy details into the description" },
          h("span", { class: "muted small", text: "Copy in:" }),
          h("button", {
            type: "button",
            class: "btn small ghost",
            text: "Conversation details",
            onclick: () => appendTo(description, this.#conversationText()),
          }),
          h("button", {
            type: "button",
            class: "btn small ghost",
            text: "Customer details",
            onclick: async () => appendTo(description, await this.#customerText()),
          }),
          h("button", {
            type: "button",
            class: "btn small ghost",
            text: "Company details",
            onclick: async () => appendTo(description, await this.#companyText()),
          }),
        )
      : null;
    append(form, [field("Description", description), copy]);
    if (!this.from || this.kind === "tracker") {
      form.append(
        field("Link tickets", input("links", { placeholder: "e.g. 12, 15" }), {
          hint:
            this.kind === "tracker"
              ? "Customer tickets this tracker covers; solving it can answer them all."
              : "Ticket numbers, comma separated.",
        }),
      );
    }
  }

  #peopleFields(form) {
    const me = state.me;
    const agents = Array.from(state.agents.values())
      .filter((a) => a.active !== false)
      .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""))
      .map((a) => [String(a.id), a.id === me?.id ? `${a.name} (me)` : a.name]);
    if (me && !agents.some(([id]) => id === String(me.id))) {
      agents.unshift([String(me.id), `${me.name} (me)`]);
    }
    const assignee = select(
      "assignee",
      [["", "Nobody yet (the group's queue)"], ...agents],
      this.kind === "customer" && me ? String(me.id) : "",
    );
    form.append(
      h(
        "div",
        { class: "field-row" },
        field(
          "Group",
          select(
            "group",
            [["", "No group"], ...(this.groups ?? []).map((g) => [String(g.id), g.name])],
            "",
          ),
        ),
        field("Assignee", assignee),
        field(
          "Priority",
          select(
            "priority",
            PRIORITIES.map((p) => [p, p]),
            "normal",
          ),
        ),
      ),
    );
  }

  #defaultTitle() {
    const from = this.from;
    if (!from) return "";
    return from.subject ? String(from.subject).slice(0, 200) : "";
  }

  // ---------------------------------------------------------------- copying details in

  #conversationText() {
    const t = this.from;
    const tl = this.conversation?.timeline;
    const events = tl?.ticket === t.id ? tl.sorted() : [];
    const lines = [
      `**Conversation #${t.id}** (${t.channel ?? "chat"})`,
      "",
      `- Started: ${full(t.created_at)}`,
      `- Customer: ${customerName(t)}`,
      `- Assigned to: ${t.assignee?.name ?? "nobody"}`,
    ];
    if (t.subject) lines.push(`- Subject: ${t.subject}`);
    if (t.labels?.length) lines.push(`- Labels: ${t.labels.join(", ")}`);
    const messages = events.filter((e) => e.kind === "message").slice(-8);
    for (const e of messages) {
      const who = e.author?.type === "visitor" ? customerName(t) : (e.author?.name ?? "Agent");
      lines.push("", `> **${who}:** ${String(e.body ?? "").replace(/\s+/g, " ")}`);
    }
    return lines.join("\n");
  }

  async #customerRecord() {
    const id = this.from?.customer?.id;
    if (id == null) return null;
    if (this.details?.customer && this.details.ticketId === this.from.id)
      return this.details.customer;
    try {
      return await api(`/customers/${id}`);
    } catch {
      return this.from.customer;
    }
  }

  async #customerText() {
    const c = await this.#customerRecord();
    if (!c) return "**Customer:** unknown";
    const rows = [
      ["Name", c.name],
      ["E-mail", c.email],
      ["Phone", c.phone],
      ["Customer number", c.external_id],
      ["Page", c.page_url],
      ["IP", c.ip],
    ].filter(([, v]) => v);
    return ["**Customer**", "", ...rows.map(([k, v]) => `- ${k}: ${v}`)].join("\n");
  }

  async #companyText() {
    const c = await this.#customerRecord();
    let company = c?.company ?? null;
    try {
      if (typeof company === "number") {
        company = await api(`/companies/${company}`);
      } else if (!company && c?.email?.includes("@")) {
        // No company on the record: the one whose domain is the customer's e-mail domain.
        const domain = c.email.split("@").pop().toLowerCase();
        const all = (await api("/companies", { query: { limit: 100 } }))?.items ?? [];
        company = all.find((x) => (x.domain ?? "").toLowerCase() === domain) ?? null;
      }
    } catch (err) {
      toast(`Company details: ${describe(err)}`, { kind: "error" });
      return "";
    }
    if (!company) {
      toast("No company is known for this customer.");
      return "";
    }
    return [
      "**Company**",
      "",
      `- Name: ${company.name ?? ""}`,
      company.domain ? `- Domain: ${company.domain}` : null,
    ]
      .filter(Boolean)
      .join("\n");
  }

  // ---------------------------------------------------------------- sending

  /** The request body, or null after marking what is missing or wrong. */
  #collect() {
    const f = this.form;
    const problems = [];
    const need = (el, label, ok = Boolean(el?.value?.trim())) => {
      if (!el) return;
      if (ok) markValid(el);
      else {
        markInvalid(el, `${label} is required.`);
        problems.push(label);
      }
    };
    const value = (name) => f.elements.namedItem(name)?.value?.trim() ?? "";
    const body = { kind: this.kind, title: value("title") };
    need(f.elements.namedItem("title"), "Title");
    if (this.kind === "customer") {
      body.channel = value("channel");
      body.body = value("body");
      need(f.elements.namedItem("body"), "What the customer asked");
      const customer = {};
      for (const key of ["name", "email", "phone"]) {
        if (value(`customer_${key}`)) customer[key] = value(`customer_${key}`);
      }
      const email = f.elements.namedItem("customer_email");
      if (!Object.keys(customer).length) {
        markInvalid(email, "Give a name, a phone number or an e-mail address.");
        problems.push("a way to reach the customer");
      } else if (customer.email && !email.checkValidity()) {
        markInvalid(email, "This is not an e-mail address.");
        problems.push("a valid e-mail address");
      } else markValid(email);
      body.customer = customer;
    } else {
      const typeSelect = f.elements.namedItem("type");
      need(typeSelect, "Type");
      const type = this.types.items.find((t) => String(t.id) === typeSelect.value);
      if (type) body.type = type.id;
      const attributes = {};
      for (const a of type?.attributes ?? []) {
        const el = f.querySelector(`[data-attr="${CSS.escape(a.key)}"]`);
        const raw = el?.value?.trim() ?? "";
        if (!raw) {
          if (a.required) {
            markInvalid(el, `${a.label} is required.`);
            problems.push(a.label);
          } else markValid(el);
          continue;
        }
        if (a.type === "number") {
          const n = Number(raw);
          if (!Number.isFinite(n)) {
            markInvalid(el, `${a.label} is a number.`);
            problems.push(a.label);
            continue;
          }
          attributes[a.key] = n;
        } else attributes[a.key] = raw;
        markValid(el);
      }
      body.attributes = attributes;
      if (value("description")) body.description = value("description");
      const links = new Set(
        value("links")
          .split(/[\s,]+/)
          .map((x) => Number(x.replace(/^#/, "")))
          .filter((n) => Number.isInteger(n) && n > 0),
      );
      if (this.from) links.add(this.from.id);
      if (links.size) body.links = Array.from(links);
    }
    if (value("group")) body.group = Number(value("group"));
    if (value("assignee")) body.assignee = Number(value("assignee"));
    body.priority = value("priority") || "normal";
    if (problems.length) {
      this.error.textContent = `Fill in: ${problems.join(", ")}.`;
      f.querySelector('[aria-invalid="true"]')?.focus();
      return null;
    }
    return body;
  }

  async submit() {
    if (this.busy) return;
    this.error.textContent = "";
    const body = this.#collect();
    if (!body) return;
    this.busy = true;
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const ticket = await api("/tickets", { method: "POST", json: body });
      if (ticket?.id == null) throw new Error("The server did not return the new ticket.");
      upsert(ticket);
      this.modal.close();
      const what = ticket.kind === "customer" ? "Ticket" : `${KINDS[ticket.kind]} ticket`;
      if (this.from) {
        this.conversation?.refetch();
        toast(`${what} #${ticket.id} created and linked to #${this.from.id}.`, {
          action: { label: "Open", run: () => this.go(ticket.id) },
        });
      } else {
        toast(`${what} #${ticket.id} created.`);
        this.go(ticket.id);
      }
    } catch (err) {
      const key = err.extra?.field;
      const el = key ? this.form.querySelector(`[data-attr="${CSS.escape(key)}"]`) : null;
      if (el) markInvalid(el, describe(err));
      this.error.textContent = err.missing
        ? `${describe(err)} Creating tickets works once it does.`
        : `Not created: ${describe(err)}`;
    } finally {
      this.busy = false;
      button.disabled = false;
    }
  }
}

// ------------------------------------------------------------------ form helpers

function input(name, props = {}) {
  return h("input", { class: "input", name, type: "text", ...props });
}

function select(name, options, value = "", placeholder = null) {
  return h(
    "select",
    { class: "input", name },
    placeholder ? h("option", { value: "", text: placeholder }) : null,
    options.map(([v, text]) => h("option", { value: v, text, selected: v === value })),
  );
}

/** A labelled field; required ones carry a mark and aria-required. */
function field(label, control, { required = false, hint = null } = {}) {
  const id = `cf-${++seq}`;
  control.id = id;
  if (required) {
    // The name without the mark; aria-required says it is needed.
    control.setAttribute("aria-label", label);
    control.setAttribute("aria-required", "true");
    control.dataset.required = "1";
  }
  const hintEl = hint ? h("span", { class: "field-hint", id: `${id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h(
    "div",
    { class: "field" },
    h(
      "label",
      { class: "field-label", for: id },
      label,
      required
        ? h("span", { class: "req", "aria-hidden": "true", title: "Required", text: " *" })
        : null,
    ),
    control,
    hintEl,
    h("span", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }),
  );
}

function attributeField(a) {
  let control;
  const props = { class: "input", dataset: { attr: a.key }, name: `attr_${a.key}` };
  if (a.type === "choice") {
    control = h(
      "select",
      props,
      h("option", { value: "", text: a.required ? "Choose…" : "—" }),
      (a.choices ?? []).map((c) => h("option", { value: c, text: c })),
    );
  } else if (a.type === "number") {
    control = h("input", { ...props, type: "number", step: "any" });
  } else if (a.type === "date") {
    control = h("input", { ...props, type: "date" });
  } else {
    control = h("input", { ...props, type: "text", maxlength: 2000 });
  }
  control.addEventListener("input", () => control.value && markValid(control));
  return field(a.label || a.key, control, { required: Boolean(a.required) });
}

function markInvalid(el, message) {
  if (!el) return;
  el.setAttribute("aria-invalid", "true");
  const box = el.closest(".field")?.querySelector(".field-error");
  if (box) {
    box.textContent = message;
    el.setAttribute(
      "aria-describedby",
      [el.getAttribute("aria-describedby"), box.id].filter(Boolean).join(" "),
    );
  }
}

function markValid(el) {
  if (!el) return;
  el.removeAttribute("aria-invalid");
  const box = el.closest(".field")?.querySelector(".field-error");
  if (box) box.textContent = "";
}

function appendTo(textarea, text) {
  if (!text) return;
  const now = textarea.value.trimEnd();
  textarea.value = now ? `${now}\n\n${text}` : text;
  textarea.focus();
  textarea.setSelectionRange(textarea.value.length, textarea.value.length);
}
