// The notifications bell: GET /api/v1/notifications at start, `notification` pushes live, the
// unread count on the bell, a list with read state; opening one marks it read
// (POST /api/v1/notifications/{id}/read) and opens its ticket.

import { api, describe } from "./api.js";
import { $, clear, h } from "./dom.js";
import { state, ticketName } from "./state.js";
import { ago, full } from "./time.js";
import { errorToast } from "./toast.js";

const KINDS = {
  message: "New message",
  note: "New note",
  assigned: "Assigned to you",
  mention: "You were mentioned",
  linked_status: "A linked ticket changed",
  status: "Status changed",
  sla: "Service level breached",
  access: "Access request",
  created: "New ticket",
};
const KEEP = 50;

export class Bell {
  constructor({ go }) {
    this.go = go;
    this.button = $("#bell");
    this.panel = $("#bell-panel");
    this.items = [];
    this.error = null;
    this.loaded = false;
    this.button.addEventListener("click", () => this.toggle());
    document.addEventListener("pointerdown", (e) => {
      if (!this.panel.hidden && !e.target.closest(".bell-wrap")) this.close();
    });
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        this.close();
        this.button.focus();
      }
    });
  }

  async load() {
    try {
      const data = await api("/notifications", { query: { limit: KEEP } });
      this.items = data?.items ?? [];
      this.error = null;
    } catch (err) {
      this.error = err.missing
        ? `Notifications: ${describe(err)}`
        : `Could not load notifications: ${describe(err)}`;
    }
    this.loaded = true;
    this.render();
  }

  push(n) {
    if (!n || n.id == null) return;
    this.items = [n, ...this.items.filter((x) => x.id !== n.id)].slice(0, KEEP);
    this.render();
  }

  get unread() {
    return this.items.filter((n) => !n.read).length;
  }

  toggle() {
    if (this.panel.hidden) this.open();
    else this.close();
  }

  open() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.render();
    this.panel.querySelector("button")?.focus();
  }

  close() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  render() {
    const n = this.unread;
    const count = $(".bell-count", this.button);
    count.hidden = n === 0;
    count.textContent = n > 99 ? "99+" : String(n);
    this.button.classList.toggle("has-unread", n > 0);
    this.button.title = n ? `Notifications: ${n} unread` : "Notifications";
    this.button.setAttribute("aria-label", n ? `Notifications, ${n} unread` : "Notifications");
    if (this.panel.hidden) return;
    const panel = clear(this.panel);
    panel.append(
      h(
        "div",
        { class: "popover-head" },
        h("span", { text: "Notifications" }),
        n
          ? h("button", {
              type: "button",
              class: "btn small ghost",
              text: "Mark all read",
              onclick: () => this.readAll(),
            })
          : null,
      ),
    );
    if (this.error) panel.append(h("p", { class: "popover-empty", text: this.error }));
    else if (!this.loaded) panel.append(h("p", { class: "popover-empty", text: "Loading…" }));
    else if (!this.items.length)
      panel.append(h("p", { class: "popover-empty", text: "Nothing new for you." }));
    const list = h("ul", { class: "notes-list" });
    for (const item of this.items) {
      const t = state.tickets.get(item.ticket);
      list.append(
        h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: `notification${item.read ? "" : " unread"}`,
              dataset: { notification: item.id },
              onclick: () => this.choose(item),
            },
            item.read ? null : h("span", { class: "unread-dot", title: "Unread" }),
            h(
              "span",
              { class: "n-text" },
              h("strong", { text: KINDS[item.kind] ?? item.kind }),
              h("span", {
                class: "muted",
                text: ` · #${item.ticket}${t ? ` ${ticketName(t)}` : ""}`,
              }),
            ),
            h("time", {
              class: "muted small",
              datetime: item.at,
              title: full(item.at),
              text: ago(item.at),
            }),
          ),
        ),
      );
    }
    if (this.items.length) panel.append(list);
  }

  async choose(item) {
    this.close();
    if (!item.read) this.markRead(item);
    if (item.ticket != null) this.go(item.ticket);
  }

  async markRead(item) {
    item.read = true;
    this.render();
    try {
      await api(`/notifications/${item.id}/read`, { method: "POST" });
    } catch (err) {
      item.read = false;
      this.render();
      errorToast(err, "Could not mark it read");
    }
  }

  async readAll() {
    await Promise.all(this.items.filter((n) => !n.read).map((n) => this.markRead(n)));
  }
}
