// The sidebar's Links: on a customer chat, its back-office and tracker tickets with their
// state and a button to create one; on a back-office or tracker ticket, the conversations
// it came from. Tickets are linked by number (POST /tickets/{id}/links) and unlinked.

import { api } from "./api.js";
import { clear, h } from "./dom.js";
import { KINDS, STATUS_LABELS, canWrite, isBackoffice, upsert } from "./state.js";
import { errorToast, toast } from "./toast.js";

export class LinksCard {
  constructor({ root, title, actions, create }) {
    this.root = root;
    this.titleEl = title;
    this.actions = actions;
    this.create = create; // (ticket) => open the back-office form for it
    this.ticket = null;
    this.adding = false;
  }

  render(t) {
    this.ticket = t;
    const back = isBackoffice(t);
    const writable = canWrite(t) && t.status !== "closed";
    this.titleEl.textContent = back ? "Linked conversations" : "Back-office tickets";
    clear(this.actions);
    if (!back && t.status !== "closed") {
      this.actions.append(
        h("button", {
          type: "button",
          class: "btn small ghost add",
          text: "+ Create",
          title: "Create a back-office ticket linked to this chat",
          "aria-label": "Create back-office ticket",
          onclick: () => this.create(t),
        }),
      );
    }
    const box = clear(this.root);
    const links = t.links ?? [];
    const primary = links.filter((l) => (back ? !isBackoffice(l) : isBackoffice(l)));
    const others = links.filter((l) => !primary.includes(l));
    if (!primary.length) {
      box.append(
        h("p", {
          class: "muted small",
          text: back
            ? "Not linked to any conversation."
            : "None yet. Create one when another team has to act.",
        }),
      );
    }
    if (primary.length) box.append(this.#list(primary, writable));
    if (others.length) {
      box.append(
        h("p", { class: "subhead", text: back ? "Other linked tickets" : "Linked tickets" }),
      );
      box.append(this.#list(others, writable));
    }
    if (writable) box.append(this.#linkForm(t));
    if (t.links === undefined) box.append(h("p", { class: "muted small", text: "Loading…" }));
  }

  #list(links, writable) {
    const ul = h("ul", { class: "links" });
    for (const l of links) {
      const kind = l.kind ?? null;
      const label =
        kind && kind !== "customer"
          ? (l.status_label ?? STATUS_LABELS[l.status] ?? l.status)
          : l.status;
      ul.append(
        h(
          "li",
          { dataset: { link: l.ticket, kind: kind ?? "" } },
          h(
            "a",
            { href: `#/t/${l.ticket}`, class: "link-open", title: `Open #${l.ticket}` },
            kind ? h("span", { class: `kind k-${kind}`, text: KINDS[kind] ?? kind }) : null,
            h("span", { class: "h-id", text: `#${l.ticket}` }),
            h("span", { class: "h-subject", text: l.title || "(no title)" }),
          ),
          label ? h("span", { class: `pill s-${l.status}`, text: label }) : null,
          writable
            ? h("button", {
                type: "button",
                class: "chip-x",
                title: `Unlink #${l.ticket}`,
                "aria-label": `Unlink #${l.ticket}`,
                text: "×",
                onclick: () => this.unlink(l.ticket),
              })
            : null,
        ),
      );
    }
    return ul;
  }

  #linkForm(t) {
    const input = h("input", {
      class: "input small",
      inputmode: "numeric",
      placeholder: "Link ticket #",
      "aria-label": "Link a ticket by its number",
      onkeydown: (e) => {
        if (e.key !== "Enter") return;
        e.preventDefault();
        const other = Number(input.value.trim().replace(/^#/, ""));
        if (!Number.isInteger(other) || other <= 0) {
          toast("Type the number of the ticket to link.");
          return;
        }
        this.link(t.id, other).then((ok) => ok && (input.value = ""));
      },
    });
    return h("div", { class: "link-add" }, input);
  }

  async link(id, other) {
    try {
      upsert(await api(`/tickets/${id}/links`, { method: "POST", json: { ticket: other } }));
      toast(`#${other} linked.`);
      return true;
    } catch (err) {
      errorToast(err, `Could not link #${other}`);
      return false;
    }
  }

  async unlink(other) {
    const id = this.ticket?.id;
    if (id == null || !confirm(`Unlink #${other} from #${id}?`)) return;
    try {
      upsert(await api(`/tickets/${id}/links/${other}`, { method: "DELETE" }));
    } catch (err) {
      errorToast(err, `Could not unlink #${other}`);
    }
  }
}
