// The left column: the list views with their counts, the tickets of the chosen one
// (kept live from `queue` pushes), lists the server is asked for (Spam) and the search
// form (REST filters, paged by cursor). Rows have checkboxes for bulk changes (bulk.js).

import { api, describe } from "./api.js";
import { BulkBar } from "./bulk.js";
import { $, clear, h } from "./dom.js";
import {
  KINDS,
  LISTS,
  countOf,
  isAdmin,
  isBackoffice,
  listOf,
  setView,
  slaState,
  state,
  statusText,
  refreshTicket,
  store,
  ticketName,
} from "./state.js";
import { ago, waitedMinutes } from "./time.js";
import { errorToast, toast } from "./toast.js";

const EMPTY = {
  new: "No one is waiting. New chats appear here as they arrive.",
  open: "No open chats of yours.",
  pending: "Nothing waiting on a customer.",
  solved: "No solved chats yet.",
  team: "No teammate has an open chat.",
  backoffice: "No back-office or tracker ticket is open. Create one from a chat's sidebar.",
  spam: "The spam box is empty.",
};

export class Lists {
  constructor(root, { socket, onCreate }) {
    this.root = root;
    this.socket = socket;
    this.nav = $("#views", root);
    this.body = $("#list-body", root);
    this.title = $("#list-title", root);
    this.searchForm = $("#search-form", root);
    this.search = { items: [], cursor: null, params: null, error: null, busy: false };
    this.remote = {}; // list key -> {items, cursor, error, busy}
    this.selected = new Set();
    this.failed = new Map(); // ticket id -> code of the last refused bulk change
    this.frame = 0;
    this.bulk = new BulkBar($("#bulk-bar", root), { lists: this });
    this.#buildNav();
    $("#new-ticket", root)?.addEventListener("click", () => onCreate?.());
    this.searchForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.runSearch();
    });
    this.body.addEventListener("change", (e) => {
      const box = e.target.closest?.("input.ti-check");
      if (!box) return;
      const id = Number(box.dataset.select);
      if (box.checked) this.selected.add(id);
      else this.selected.delete(id);
      this.failed.delete(id);
      this.#paintSelection();
    });
    store.on("ticket", () => this.schedule());
    store.on("lists", () => this.schedule());
    store.on("view", ({ key }) => {
      this.clearSelection(false);
      const list = LISTS.find((l) => l.key === key);
      if (list?.remote) this.loadRemote(key);
      this.render();
    });
    store.on("current", () => this.#markCurrent());
    store.on("presence", () => this.schedule());
  }

  #buildNav() {
    clear(this.nav);
    for (const list of LISTS) {
      this.nav.append(
        h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: "view",
              dataset: { view: list.key },
              onclick: () => setView(list.key),
            },
            h("span", { class: "view-name", text: list.title }),
            h("span", { class: "count", dataset: { count: list.key } }),
          ),
        ),
      );
    }
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const view = state.view;
    for (const btn of this.nav.querySelectorAll("button.view")) {
      const key = btn.dataset.view;
      btn.setAttribute("aria-pressed", String(key === view));
      const n = countOf(key);
      const count = btn.querySelector(".count");
      count.textContent = n == null ? "" : `${n}${state.more[key] ? "+" : ""}`;
      count.classList.toggle("hot", key === "new" && n > 0);
    }
    const list = LISTS.find((l) => l.key === view) ?? LISTS[0];
    this.title.textContent = list.title;
    this.searchForm.hidden = view !== "search";
    this.body.dataset.list = view;
    const scroll = this.body.scrollTop;
    clear(this.body);
    if (view === "search") this.#renderSearch();
    else if (list.remote) this.#renderRemote(list);
    else this.#renderList(view);
    this.body.scrollTop = scroll;
    this.#markCurrent();
    this.#paintSelection();
  }

  #renderList(view) {
    if (!state.loaded) {
      this.body.append(h("p", { class: "empty", text: "Loading…" }));
      return;
    }
    const items = listOf(view);
    if (!items.length) {
      this.body.append(h("p", { class: "empty", text: EMPTY[view] ?? "Nothing here." }));
      return;
    }
    for (const t of items) this.body.append(this.#row(t, view));
  }

  // ---------------------------------------------------------------- lists from the server

  async loadRemote(key, more = false) {
    const list = LISTS.find((l) => l.key === key);
    if (!list?.remote) return;
    const r = (this.remote[key] ??= { items: [], cursor: null, error: null, busy: false });
    if (r.busy) return;
    r.busy = true;
    r.error = null;
    this.schedule();
    try {
      const data = await api("/tickets", {
        query: { ...list.remote, limit: 50, cursor: more ? r.cursor : null },
      });
      const items = data?.items ?? [];
      r.items = more ? [...r.items, ...items] : items;
      r.cursor = data?.next_cursor ?? null;
      r.loaded = true;
    } catch (err) {
      r.error = describe(err);
    } finally {
      r.busy = false;
      this.schedule();
    }
  }

  #renderRemote(list) {
    const r = this.remote[list.key];
    if (r?.error) this.body.append(h("p", { class: "empty error", text: r.error }));
    if (!r || (!r.loaded && !r.error)) {
      this.body.append(h("p", { class: "empty", text: "Loading…" }));
      return;
    }
    // Live changes move tickets out of the list (a restored ticket leaves the spam box).
    const items = r.items
      .map((found) => state.tickets.get(found.id) ?? found)
      .filter((t) => !list.remote.status || t.status === list.remote.status);
    if (!items.length && !r.busy) {
      this.body.append(h("p", { class: "empty", text: EMPTY[list.key] ?? "Nothing here." }));
    }
    for (const t of items) this.body.append(this.#row(t, list.key));
    if (r.cursor) {
      this.body.append(
        h("button", {
          type: "button",
          class: "btn ghost more",
          text: r.busy ? "Loading…" : "Load more",
          disabled: r.busy,
          onclick: () => this.loadRemote(list.key, true),
        }),
      );
    }
  }

  /** The spam box: restore a ticket to where it was, or (admins) delete it for good. */
  async restore(t) {
    try {
      await this.socket.request({ type: "restore", ticket: t.id });
      toast(`#${t.id} restored.`);
      refreshTicket(t.id).catch(() => {}); // the queue push brings it too
    } catch (err) {
      errorToast(err, `Could not restore #${t.id}`);
    }
  }

  async remove(t) {
    if (!(await deleteSpam(t.id))) return;
    for (const r of Object.values(this.remote)) r.items = r.items.filter((x) => x.id !== t.id);
    this.render();
  }

  // ---------------------------------------------------------------- search

  #renderSearch() {
    const s = this.search;
    if (s.error) this.body.append(h("p", { class: "empty error", text: s.error }));
    if (!s.params) {
      this.body.append(
        h("p", {
          class: "empty",
          text: "Search by words, customer, ticket number, title, label, status or date.",
        }),
      );
      return;
    }
    if (!s.items.length && !s.busy) {
      this.body.append(h("p", { class: "empty", text: "No ticket matches." }));
    }
    for (const found of s.items) {
      const t = state.tickets.get(found.id) ?? found;
      this.body.append(this.#row(t, "search"));
    }
    if (s.cursor) {
      this.body.append(
        h("button", {
          type: "button",
          class: "btn ghost more",
          text: s.busy ? "Loading…" : "Load more",
          disabled: s.busy,
          onclick: () => this.runSearch(true),
        }),
      );
    }
  }

  async runSearch(more = false) {
    const form = new FormData(this.searchForm);
    const text = (name) => form.get(name)?.trim() || null;
    const params = more
      ? this.search.params
      : {
          q: text("q"),
          customer: text("customer"),
          label: text("label"),
          status: form.get("status"),
          assignee: form.get("assignee"),
          kind: form.get("kind"),
          priority: form.get("priority"),
          channel: form.get("channel"),
          id: text("id")?.replace(/^#/, ""),
          title: text("title"),
          phone: text("phone"),
          external_id: text("external_id"),
          language: text("language"),
          category: text("category"),
          resolve_reason: form.get("resolve_reason"),
          created_after: form.get("created_after"),
          created_before: nextDay(form.get("created_before")),
          limit: 30,
        };
    const s = this.search;
    s.busy = true;
    s.error = null;
    if (!more) {
      s.items = [];
      s.cursor = null;
    }
    s.params = params;
    this.render();
    try {
      const data = await api("/tickets", { query: { ...params, cursor: more ? s.cursor : null } });
      s.items.push(...(data?.items ?? []));
      s.cursor = data?.next_cursor ?? null;
    } catch (err) {
      s.error = describe(err);
    } finally {
      s.busy = false;
      this.render();
    }
  }

  focusSearch() {
    setView("search");
    $("input[name=q]", this.searchForm)?.focus();
  }

  // ---------------------------------------------------------------- rows and selection

  /** The tickets of the list on screen, in order (for j/k and "select all"). */
  visibleIds() {
    return Array.from(this.body.querySelectorAll("[data-ticket]"), (el) =>
      Number(el.dataset.ticket),
    );
  }

  selectAll() {
    for (const id of this.visibleIds()) this.selected.add(id);
    this.#paintSelection();
  }

  clearSelection(repaint = true) {
    this.selected.clear();
    this.failed.clear();
    if (repaint) this.#paintSelection();
  }

  /** After a refused bulk change: which tickets said no, and why. */
  markFailed(failed) {
    this.failed = new Map(failed.map((f) => [Number(f.id), f.code]));
    this.#paintSelection();
  }

  #paintSelection() {
    const visible = new Set(this.visibleIds());
    for (const id of Array.from(this.selected)) if (!visible.has(id)) this.selected.delete(id);
    for (const box of this.body.querySelectorAll("input.ti-check")) {
      const id = Number(box.dataset.select);
      box.checked = this.selected.has(id);
      const row = box.closest(".ti-row");
      row.classList.toggle("selected", box.checked);
      row.classList.toggle("refused", this.failed.has(id));
      const why = row.querySelector(".ti-refused");
      if (this.failed.has(id)) {
        if (why) why.textContent = refusal(this.failed.get(id));
        else row.append(h("span", { class: "ti-refused", text: refusal(this.failed.get(id)) }));
      } else why?.remove();
    }
    this.body.classList.toggle("selecting", this.selected.size > 0);
    this.bulk.render();
  }

  #markCurrent() {
    for (const el of this.body.querySelectorAll("[data-ticket]")) {
      const on = Number(el.dataset.ticket) === state.currentId;
      if (on) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
    }
  }

  #row(t, view) {
    const row = h(
      "div",
      { class: "ti-row" },
      h("input", {
        type: "checkbox",
        class: "ti-check",
        dataset: { select: t.id },
        "aria-label": `Select #${t.id}`,
        title: "Select for a bulk change",
      }),
      item(t, view),
    );
    if (view === "spam") {
      row.append(
        h(
          "div",
          { class: "ti-actions" },
          h("button", {
            type: "button",
            class: "btn small",
            text: "Restore",
            title: "Back to the status it had before it was marked as spam",
            onclick: () => this.restore(t),
          }),
          isAdmin()
            ? h("button", {
                type: "button",
                class: "btn small ghost danger",
                text: "Delete",
                title: "Delete the ticket and its messages for good",
                onclick: () => this.remove(t),
              })
            : null,
        ),
      );
    }
    return row;
  }
}

/** Admins: a ticket in the spam box deleted for good, after a confirm. */
export async function deleteSpam(id) {
  if (!confirm(`Delete #${id} and everything in it for good? This cannot be undone.`)) return false;
  try {
    await api(`/tickets/${id}`, { method: "DELETE" });
  } catch (err) {
    errorToast(err, `Could not delete #${id}`);
    return false;
  }
  toast(`#${id} deleted.`);
  state.tickets.delete(id);
  store.emit("lists", {});
  return true;
}

const REFUSALS = {
  forbidden: "not yours to change",
  conflict: "cannot change that way",
  not_found: "no longer exists",
  bad_request: "refused the change",
};

function refusal(code) {
  return `Refused: ${REFUSALS[code] ?? code}`;
}

function nextDay(value) {
  if (!value) return null;
  const d = new Date(`${value}T00:00:00`);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}

/** A small badge that tells customer, back-office and tracker tickets apart. */
export function kindBadge(t) {
  const kind = t?.kind ?? "customer";
  const channel = kind === "customer" && t.channel && t.channel !== "chat" ? t.channel : null;
  return h("span", {
    class: `kind k-${kind}`,
    title: channel ? `${KINDS[kind]} ticket (${channel})` : `${KINDS[kind] ?? kind} ticket`,
    text: kind === "customer" ? (CHANNELS[channel] ?? "Chat") : (KINDS[kind] ?? kind),
  });
}

const CHANNELS = { email: "E-mail", phone: "Phone", other: "Customer" };

/** The SLA flag for lists and headers: "SLA soon" or "SLA breached". */
export function slaFlag(t) {
  const sla = slaState(t);
  if (!sla) return null;
  const part = sla.part === "first_response" ? "first response" : "resolution";
  return h("span", {
    class: `sla sla-${sla.state}`,
    dataset: { state: `sla-${sla.state}` },
    title: sla.state === "soon" ? `The ${part} is due soon` : `The ${part} is overdue`,
    text: sla.state === "soon" ? "SLA soon" : "SLA breached",
  });
}

function item(t, view) {
  const queue = view === "new";
  const since = queue ? t.created_at : t.activity_at || t.updated_at;
  const waited = queue ? waitedMinutes(t.created_at) : 0;
  const time = h("span", {
    class: `ti-time${waited >= 5 ? " late" : waited >= 2 ? " warn" : ""}`,
    dataset: { since, wait: queue ? "1" : null },
    title: queue ? "Waiting" : "Last update",
    text: ago(since),
  });
  const back = isBackoffice(t);
  // A back-office ticket's last note (or its description); a chat's last message.
  const preview = t.preview?.body ?? (back ? plain(t.description) : (t.subject ?? ""));
  const meta = [];
  if (back || view === "spam" || view === "search") {
    meta.push(h("span", { class: `pill s-${t.status}`, text: statusText(t) }));
  }
  if (t.priority && t.priority !== "normal") {
    meta.push(h("span", { class: `prio p-${t.priority}`, text: t.priority }));
  }
  const sla = slaFlag(t);
  if (sla) meta.push(sla);
  for (const label of t.labels ?? []) meta.push(h("span", { class: "chip", text: label }));
  if (["team", "search", "backoffice", "spam"].includes(view) && t.assignee) {
    const status = state.presence.get(t.assignee.id);
    meta.push(
      h(
        "span",
        { class: "ti-assignee" },
        h("span", { class: `dot ${status ?? "offline"}`, title: status ?? "offline" }),
        t.assignee.name,
      ),
    );
  }
  return h(
    "a",
    {
      class: `ticket-item${t.unread ? " unread" : ""}${sla ? ` ${sla.dataset.state}` : ""}`,
      href: `#/t/${t.id}`,
      dataset: { ticket: t.id, status: t.status, kind: t.kind ?? "customer" },
    },
    h(
      "span",
      { class: "ti-top" },
      t.unread ? h("span", { class: "unread-dot", title: "New message" }) : null,
      kindBadge(t),
      h("span", { class: "ti-name", text: ticketName(t) }),
      h("span", { class: "ti-id", text: `#${t.id}` }),
      time,
    ),
    h(
      "span",
      { class: "ti-preview" },
      t.preview?.author === "agent" ? h("span", { class: "ti-you", text: "↩ " }) : null,
      t.preview?.author === "note" ? h("span", { class: "ti-you", text: "Note: " }) : null,
      preview,
    ),
    meta.length ? h("span", { class: "ti-meta" }, meta) : null,
  );
}

/** A line of Markdown as plain words, for a one-line preview. */
function plain(md) {
  return String(md ?? "")
    .replace(/[*_`>#]+/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

/** Keep "waiting 3m" fresh without re-rendering lists. */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll("[data-since]")) {
    el.textContent = ago(el.dataset.since, now);
    if (el.dataset.wait) {
      const m = waitedMinutes(el.dataset.since, now);
      el.classList.toggle("warn", m >= 2 && m < 5);
      el.classList.toggle("late", m >= 5);
    }
  }
}
