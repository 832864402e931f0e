// What the console knows: the signed-in agent, tickets by id (merged from REST pages and
// live `queue` pushes, the newer `last_seq` winning), teammates and their presence.

import { Emitter } from "./emitter.js";
import { api, listAll } from "./api.js";

export const store = new Emitter();

export const state = {
  me: null,
  tickets: new Map(),
  currentId: null,
  view: localStorage.getItem("chatdesk:view") || "new",
  agents: new Map(), // id -> {id, name}
  presence: new Map(), // id -> "online" | "away"
  more: {}, // list key -> true when the server had more than was loaded
  loaded: false,
};

export function isAdmin() {
  return state.me?.role === "admin";
}

export function isMine(t) {
  return Boolean(state.me && t?.assignee && t.assignee.id === state.me.id);
}

export function isCollaborator(t) {
  return Boolean(state.me && (t?.collaborators ?? []).some((c) => c.id === state.me.id));
}

/** The server's rule: the assignee, collaborators and admins write to a ticket. */
export function canWrite(t) {
  if (!t || !state.me) return false;
  if (t.status === "closed") return false;
  return isAdmin() || isMine(t) || isCollaborator(t);
}

export function customerName(t) {
  const c = t?.customer;
  return c?.name || c?.email || c?.phone || (c ? `Visitor #${c.id}` : "Visitor");
}

export const KINDS = { customer: "Customer", backoffice: "Back office", tracker: "Tracker" };

/** Back-office and tracker tickets show their statuses by these names (contract §8). */
export const STATUS_LABELS = {
  new: "submitted",
  open: "in progress",
  pending: "waiting on customer",
  solved: "resolved",
};

/** Why a ticket was resolved internally (contract `resolve_reason`). */
export const REASONS = [
  ["duplicate", "Duplicate of another ticket"],
  ["via_chat", "Resolved via chat"],
  ["via_call", "Resolved via call"],
  ["test", "Test"],
  ["abuse", "Abuse"],
  ["other", "Other"],
  ["spam", "Spam: into the spam box"],
];

export function reasonText(reason) {
  const found = REASONS.find(([key]) => key === reason);
  return found ? found[1].split(":")[0].toLowerCase() : reason;
}

export function isBackoffice(t) {
  return t?.kind === "backoffice" || t?.kind === "tracker";
}

export function statusText(t) {
  if (!t) return "";
  if (isBackoffice(t)) return t.status_label || STATUS_LABELS[t.status] || t.status;
  return t.status;
}

/** What a ticket is called in lists and headers: its title, or the customer for a chat. */
export function ticketName(t) {
  if (isBackoffice(t)) return t.title || `Ticket #${t.id}`;
  return customerName(t);
}

const SOON_MS = 15 * 60_000;
const DONE = new Set(["solved", "closed", "spam"]);

/**
 * How the ticket stands against its service levels: {state: "soon"|"breached", part} or
 * null. The server's answer is refreshed against the clock, and an `sla` push flags it.
 */
export function slaState(t, now = Date.now()) {
  if (!t || DONE.has(t.status)) return null;
  let worst = t.sla_flag ? { state: "breached", part: t.sla_flag } : null;
  for (const part of ["first_response", "resolution"]) {
    let s = t.due?.[part] ?? null;
    const at = Date.parse(t.due?.[`${part}_at`] ?? "");
    if (s === "met") continue;
    if (!Number.isNaN(at)) {
      if (at <= now) s = "breached";
      else if (at - now <= SOON_MS && s !== "breached") s = "soon";
    }
    if (s === "breached") return { state: "breached", part };
    if (s === "soon" && !worst) worst = { state: "soon", part };
  }
  return worst;
}

const byCreated = (a, b) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id - b.id;
const byActivity = (a, b) =>
  activity(b) < activity(a) ? -1 : activity(b) > activity(a) ? 1 : b.id - a.id;

function activity(t) {
  return t.activity_at || t.updated_at || t.created_at || "";
}

/** The ticket lists of the left column; `test` decides membership from a summary alone. */
export const LISTS = [
  {
    key: "new",
    title: "New",
    test: (t) => t.status === "new" && !isBackoffice(t),
    sort: byCreated,
  },
  {
    key: "open",
    title: "Mine: open",
    test: (t) => isMine(t) && t.status === "open",
    sort: byActivity,
  },
  {
    key: "pending",
    title: "Mine: pending",
    test: (t) => isMine(t) && t.status === "pending",
    sort: byActivity,
  },
  {
    key: "solved",
    title: "Mine: solved",
    test: (t) => isMine(t) && t.status === "solved",
    sort: byActivity,
  },
  {
    key: "team",
    title: "Team",
    test: (t) =>
      Boolean(t.assignee) && !isMine(t) && (t.status === "open" || t.status === "pending"),
    sort: byActivity,
  },
  {
    key: "backoffice",
    title: "Back office",
    test: (t) => isBackoffice(t) && ["new", "open", "pending"].includes(t.status),
    sort: byActivity,
  },
  { key: "spam", title: "Spam", remote: { status: "spam" } },
  { key: "search", title: "Search" },
];

export function listOf(key) {
  const list = LISTS.find((l) => l.key === key);
  if (!list?.test) return [];
  return Array.from(state.tickets.values()).filter(list.test).sort(list.sort);
}

export function countOf(key) {
  const list = LISTS.find((l) => l.key === key);
  if (!list?.test) return null;
  let n = 0;
  for (const t of state.tickets.values()) if (list.test(t)) n += 1;
  return n;
}

export function learnAgent(ref) {
  if (!ref || ref.id == null) return;
  const known = state.agents.get(ref.id) ?? {};
  state.agents.set(ref.id, { ...known, ...ref, name: ref.name || known.name });
}

// One set per list load in flight: the tickets merged meanwhile (by a push), which that
// load must not drop for being absent from lists it read before they existed.
const loads = new Set();

/** Merge one ticket summary; a summary older than what we hold (smaller last_seq) is ignored. */
export function upsert(ticket) {
  if (!ticket || ticket.id == null) return null;
  for (const merged of loads) merged.add(ticket.id);
  const old = state.tickets.get(ticket.id);
  if (old && (old.last_seq ?? 0) > (ticket.last_seq ?? 0)) return old;
  const merged = {
    ...ticket,
    unread: old?.unread ?? false,
    preview: old?.preview ?? null,
    sla_flag: DONE.has(ticket.status) ? null : (old?.sla_flag ?? null),
    activity_at: maxIso(old?.activity_at, ticket.updated_at),
  };
  state.tickets.set(ticket.id, merged);
  learnAgent(ticket.assignee);
  for (const c of ticket.collaborators ?? []) learnAgent(c);
  store.emit("ticket", { ticket: merged, old });
  return merged;
}

let groups = { items: null, at: 0 };

/** The groups (asked again after a minute) and every teammate the server lists, learned. */
export async function loadPeople() {
  const fresh = groups.items && Date.now() - groups.at < 60_000;
  const [items] = await Promise.all([
    fresh
      ? groups.items
      : api("/groups", { query: { limit: 100 } })
          .then((data) => {
            groups = { items: data?.items ?? [], at: Date.now() };
            return groups.items;
          })
          .catch(() => groups.items ?? []),
    api("/agents", { query: { limit: 100 } })
      .then((data) => (data?.items ?? []).forEach(learnAgent))
      .catch(() => {}), // agents may not list teammates: those seen so far
  ]);
  return items;
}

/** The ticket's full record from the server, merged in. */
export async function refreshTicket(id) {
  return upsert(await api(`/tickets/${id}`));
}

/** A live event of a ticket we know: keep its list entry fresh without asking the server. */
export function touch(event, { unread = false } = {}) {
  const t = state.tickets.get(event.ticket);
  if (event.author?.type === "agent") learnAgent({ id: event.author.id, name: event.author.name });
  if (!t) return;
  const next = { ...t, activity_at: maxIso(t.activity_at, event.at) };
  if (event.seq > (t.last_seq ?? 0)) applyEvent(next, event);
  if (event.kind === "message" && typeof event.body === "string") {
    next.preview = { body: event.body, author: event.author?.type };
  } else if (event.kind === "note" && isBackoffice(t) && typeof event.body === "string") {
    next.preview = { body: event.body, author: "note" };
  }
  if (unread) next.unread = true;
  state.tickets.set(t.id, next);
  store.emit("ticket", { ticket: next, old: t });
}

export function markRead(id) {
  const t = state.tickets.get(id);
  if (t?.unread) {
    state.tickets.set(id, { ...t, unread: false });
    store.emit("ticket", { ticket: state.tickets.get(id), old: t });
  }
}

/**
 * Events newer than the summary we hold change it the way the server did, so a `queue`
 * push that arrives after them (it travels on another topic) is not needed to be right.
 */
function applyEvent(t, event) {
  t.last_seq = event.seq;
  switch (event.kind) {
    case "status":
      if (event.to) {
        t.status = event.to;
        t.status_label = isBackoffice(t) ? (STATUS_LABELS[event.to] ?? event.to) : event.to;
        if (event.reason !== undefined) t.resolve_reason = event.reason ?? null;
        if (DONE.has(event.to)) t.sla_flag = null;
      }
      break;
    case "updated":
      for (const [name, change] of Object.entries(event.fields ?? {})) {
        if (SIMPLE_FIELDS.has(name) && change && "to" in change) t[name] = change.to;
      }
      break;
    case "linked":
      if (!(t.links ?? []).some((l) => l.ticket === event.other)) {
        t.links = [...(t.links ?? []), { ticket: event.other, kind: null, status: null }];
      }
      break;
    case "unlinked":
      t.links = (t.links ?? []).filter((l) => l.ticket !== event.other);
      break;
    case "linked_status":
      t.links = (t.links ?? []).map((l) =>
        l.ticket === event.other
          ? {
              ...l,
              kind: event.other_kind ?? l.kind,
              status: event.to,
              status_label: event.status_label ?? STATUS_LABELS[event.to] ?? event.to,
            }
          : l,
      );
      break;
    case "assigned":
      t.assignee = event.assignee ?? null;
      if ("group" in event) t.group = event.group ?? null;
      break;
    case "labels": {
      const labels = new Set(t.labels ?? []);
      for (const name of event.added ?? []) labels.add(name);
      for (const name of event.removed ?? []) labels.delete(name);
      t.labels = Array.from(labels).sort();
      break;
    }
    case "access":
      if (event.state === "granted" && event.agent) {
        const others = (t.collaborators ?? []).filter((c) => c.id !== event.agent.id);
        t.collaborators = [...others, event.agent];
      } else if (event.state === "revoked" && event.agent) {
        t.collaborators = (t.collaborators ?? []).filter((c) => c.id !== event.agent.id);
      }
      break;
    default:
  }
}

const SIMPLE_FIELDS = new Set([
  "title",
  "priority",
  "category",
  "service",
  "cc",
  "visibility",
  "language",
  "attributes",
]);

/** The `sla` push: flag the ticket until it is solved. */
export function flagSla(id, breach) {
  const t = state.tickets.get(id);
  if (!t) return;
  const next = { ...t, sla_flag: breach || "resolution" };
  state.tickets.set(id, next);
  store.emit("ticket", { ticket: next, old: t });
}

function maxIso(a, b) {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}

/**
 * Load every list from REST (at start and after a reconnect). Tickets we held that no list
 * holds any more (closed while we were away) are dropped, except the one on screen and
 * those a push brought while the lists were on their way.
 */
export async function loadLists() {
  const meanwhile = new Set();
  loads.add(meanwhile);
  let fresh, active, solved;
  try {
    [fresh, active, solved] = await Promise.all([
      listAll("/tickets", { status: "new", limit: 100 }),
      listAll("/tickets", { status: "open,pending", limit: 100 }),
      listAll("/tickets", { status: "solved", assignee: "me", limit: 50 }, 1),
    ]);
  } finally {
    loads.delete(meanwhile);
  }
  const seen = new Set(meanwhile);
  for (const t of [...fresh.items, ...active.items, ...solved.items]) {
    seen.add(t.id);
    upsert(t);
  }
  for (const id of Array.from(state.tickets.keys())) {
    if (!seen.has(id) && id !== state.currentId) state.tickets.delete(id);
  }
  state.more = {
    new: fresh.more,
    open: active.more,
    pending: active.more,
    team: active.more,
    solved: solved.more,
  };
  state.loaded = true;
  store.emit("lists", {});
}

export function setPresence(agents) {
  state.presence = new Map((agents ?? []).map((a) => [a.id, a.status]));
  store.emit("presence", {});
}

export function setView(key) {
  state.view = key;
  localStorage.setItem("chatdesk:view", key);
  store.emit("view", { key });
}
