// What the console knows: the signed-in agent, tickets by id (merged from REST pages and
// live `queue` pushes, the newer `last_seq` winning), teammates and their presence.

import { Emitter } from "./emitter.js";
import { listAll } from "./api.js";

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
  return c?.name || c?.email || (c ? `Visitor #${c.id}` : "Visitor");
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
  { key: "new", title: "New", test: (t) => t.status === "new", sort: byCreated },
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

/** Merge one ticket summary; a summary older than what we hold (smaller last_seq) is ignored. */
export function upsert(ticket) {
  if (!ticket || ticket.id == null) return null;
  const old = state.tickets.get(ticket.id);
  if (old && (old.last_seq ?? 0) > (ticket.last_seq ?? 0)) return old;
  const merged = {
    ...ticket,
    unread: old?.unread ?? false,
    preview: old?.preview ?? null,
    activity_at: maxIso(old?.activity_at, ticket.updated_at),
  };
  state.tickets.set(ticket.id, merged);
  learnAgent(ticket.assignee);
  for (const c of ticket.collaborators ?? []) learnAgent(c);
  store.emit("ticket", { ticket: merged, old });
  return merged;
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
      if (event.to) t.status = event.to;
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

function maxIso(a, b) {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}

/**
 * Load every list from REST (at start and after a reconnect). Tickets we held that no list
 * holds any more (closed while we were away) are dropped, except the one on screen.
 */
export async function loadLists() {
  const [fresh, active, solved] = await Promise.all([
    listAll("/tickets", { status: "new", limit: 100 }),
    listAll("/tickets", { status: "open,pending", limit: 100 }),
    listAll("/tickets", { status: "solved", assignee: "me", limit: 50 }, 1),
  ]);
  const seen = new Set();
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
