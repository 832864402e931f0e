// Two small dialogs of the ticket actions: "Resolve internally" (solved with a reason and no
// word to the customer, or into the spam box) and solving a tracker, which can answer every
// linked customer ticket with one public reply.

import { clear, h } from "./dom.js";
import { Modal } from "./modal.js";
import { REASONS } from "./state.js";

export class ResolveDialog {
  constructor({ conversation }) {
    this.conversation = conversation;
    this.modal = new Modal({ title: "Resolve internally" });
  }

  open(t) {
    this.modal.setTitle(`Resolve #${t.id} internally`);
    const form = h("form", { class: "resolve-form" });
    const group = h("fieldset", { class: "reasons" }, h("legend", { text: "Why?" }));
    REASONS.forEach(([key, label], i) =>
      group.append(
        h(
          "label",
          { class: "check-item" },
          h("input", { type: "radio", name: "reason", value: key, checked: i === 0 }),
          ` ${label}`,
        ),
      ),
    );
    form.append(
      h("p", {
        class: "muted small",
        text: "Nothing is sent to the customer. A customer who writes again reopens it.",
      }),
      group,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: "Resolve" }),
        h("button", {
          type: "button",
          class: "btn ghost",
          text: "Cancel",
          onclick: () => this.modal.close(),
        }),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const reason = form.elements.reason.value;
      if (await this.conversation.resolveInternally(reason)) this.modal.close();
    });
    clear(this.modal.body).append(form);
    this.modal.show();
  }
}

export class TrackerDialog {
  constructor({ conversation }) {
    this.conversation = conversation;
    this.modal = new Modal({ title: "Resolve the tracker" });
  }

  open(t) {
    const customers = (t.links ?? []).filter((l) => (l.kind ?? "customer") === "customer");
    this.modal.setTitle(`Resolve tracker #${t.id}`);
    const reply = h("textarea", {
      class: "input",
      name: "reply",
      rows: 5,
      maxlength: 10000,
      "aria-label": "Reply to every linked customer",
      placeholder: "e.g. The problem with payments is fixed; please try again.",
    });
    const form = h(
      "form",
      { class: "tracker-form" },
      h("p", {
        text: customers.length
          ? `${customers.length} linked customer ticket(s) are solved with it. A reply written here is sent to each of them.`
          : "No customer ticket is linked; only the tracker is resolved.",
      }),
      customers.length
        ? h(
            "label",
            { class: "field" },
            h("span", { class: "field-label", text: "Public reply (optional)" }),
            reply,
          )
        : null,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: "Resolve" }),
        h("button", {
          type: "button",
          class: "btn ghost",
          text: "Cancel",
          onclick: () => this.modal.close(),
        }),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = reply.value.trim();
      const extra = body && customers.length ? { reply: { body } } : {};
      if (await this.conversation.setStatus("solved", extra)) this.modal.close();
    });
    clear(this.modal.body).append(form);
    this.modal.show();
    reply.focus();
  }
}
