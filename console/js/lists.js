// The left column: the list views with their counts, the tickets of the chosen one
// (kept live from `queue` pushes), and the search form (REST filters, paged by cursor).

import { api, describe } from "./api.js";
import { $, clear, h } from "./dom.js";
import { LISTS, countOf, customerName, listOf, setView, state, store } from "./state.js";
import { ago, waitedMinutes } from "./time.js";

const EMPTY = {
  new: "No one is waiting. New chats appear here as they arrive.",
  open: "No open chats of yours.",
  pending: "Nothing waiting on a customer.",
  solved: "No solved chats yet.",
  team: "No teammate has an open chat.",
};

export class Lists {
  constructor(root) {
    this.root = root;
    this.nav = $("#views", root);
    this.body = $("#list-body", root);
    this.title = $("#list-title", root);
    this.searchForm = $("#search-form", root);
    this.search = { items: [], cursor: null, params: null, error: null, busy: false };
    this.frame = 0;
    this.#buildNav();
    this.searchForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.runSearch();
    });
    store.on("ticket", () => this.schedule());
    store.on("lists", () => this.schedule());
    store.on("view", () => this.render());
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
    else this.#renderList(view);
    this.body.scrollTop = scroll;
    this.#markCurrent();
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
    for (const t of items) this.body.append(item(t, view));
  }

  #renderSearch() {
    const s = this.search;
    if (s.error) this.body.append(h("p", { class: "empty error", text: s.error }));
    if (!s.params) {
      this.body.append(
        h("p", { class: "empty", text: "Search by words, customer, label, status or date." }),
      );
      return;
    }
    if (!s.items.length && !s.busy) {
      this.body.append(h("p", { class: "empty", text: "No ticket matches." }));
    }
    for (const found of s.items) {
      const t = state.tickets.get(found.id) ?? found;
      this.body.append(item(t, "search"));
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
    const params = more
      ? this.search.params
      : {
          q: form.get("q")?.trim(),
          customer: form.get("customer")?.trim(),
          label: form.get("label")?.trim(),
          status: form.get("status"),
          assignee: form.get("assignee"),
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

  /** The tickets of the list on screen, in order (for j/k). */
  visibleIds() {
    return Array.from(this.body.querySelectorAll("[data-ticket]"), (el) =>
      Number(el.dataset.ticket),
    );
  }

  #markCurrent() {
    for (const el of this.body.querySelectorAll("[data-ticket]")) {
      const on = Number(el.dataset.ticket) === state.currentId;
      if (on) el.setAttribute("aria-current", "true");
      else el.removeAttribute("aria-current");
    }
  }
}

function nextDay(value) {
  if (!value) return null;
  const d = new Date(`${value}T00:00:00`);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}

function item(t, view) {
  const since = view === "new" ? t.created_at : t.activity_at || t.updated_at;
  const waited = view === "new" ? waitedMinutes(t.created_at) : 0;
  const time = h("span", {
    class: `ti-time${waited >= 5 ? " late" : waited >= 2 ? " warn" : ""}`,
    dataset: { since, wait: view === "new" ? "1" : null },
    title: view === "new" ? "Waiting" : "Last activity",
    text: ago(since),
  });
  const preview = t.preview?.body ?? t.subject ?? "";
  const meta = [];
  for (const label of t.labels ?? []) meta.push(h("span", { class: "chip", text: label }));
  if ((view === "team" || view === "search") && t.assignee) {
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
  if (view === "search") meta.unshift(h("span", { class: `pill s-${t.status}`, text: t.status }));
  return h(
    "a",
    {
      class: `ticket-item${t.unread ? " unread" : ""}`,
      href: `#/t/${t.id}`,
      dataset: { ticket: t.id, status: t.status },
    },
    h(
      "span",
      { class: "ti-top" },
      t.unread ? h("span", { class: "unread-dot", title: "New message" }) : null,
      h("span", { class: "ti-name", text: customerName(t) }),
      h("span", { class: "ti-id", text: `#${t.id}` }),
      time,
    ),
    h(
      "span",
      { class: "ti-preview" },
      t.preview?.author === "agent" ? h("span", { class: "ti-you", text: "↩ " }) : null,
      preview,
    ),
    meta.length ? h("span", { class: "ti-meta" }, meta) : null,
  );
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
