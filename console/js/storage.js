// Nothing typed is lost: drafts per ticket and the outbox of unsent messages live in
// localStorage (per agent), so a dropped connection or a reload keeps them.

import { Emitter } from "./emitter.js";

let agentId = null;

function key(name) {
  return `chatdesk:${agentId}:${name}`;
}

function read(name, fallback) {
  if (agentId == null) return fallback;
  try {
    const raw = localStorage.getItem(key(name));
    return raw ? JSON.parse(raw) : fallback;
  } catch {
    return fallback;
  }
}

function write(name, value) {
  if (agentId == null) return;
  try {
    localStorage.setItem(key(name), JSON.stringify(value));
  } catch {
    /* storage full or disabled: the in-memory copy still works for this tab */
  }
}

export function useAgent(id) {
  agentId = id;
  drafts.load();
  outbox.load();
}

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** draft = {text, mode: "reply"|"note", attachments: [attachment]} */
export const drafts = {
  map: {},
  timer: null,
  load() {
    this.map = read("drafts", {});
  },
  get(ticket) {
    return this.map[ticket] ?? { text: "", mode: "reply", attachments: [] };
  },
  set(ticket, draft) {
    const empty = !draft.text && !(draft.attachments ?? []).length && draft.mode !== "note";
    if (empty) delete this.map[ticket];
    else this.map[ticket] = draft;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => write("drafts", this.map), 250);
  },
  flush() {
    clearTimeout(this.timer);
    write("drafts", this.map);
  },
};

/**
 * item = {client_msg_id, ticket, type: "send"|"note", body, attachments: [attachment],
 *         at, state: "queued"|"sending"|"sent"|"failed", error?}
 * Emits "change" with the ticket id.
 */
class Outbox extends Emitter {
  items = [];

  load() {
    this.items = read("outbox", []).map((item) =>
      item.state === "sending" ? { ...item, state: "queued" } : item,
    );
  }

  save() {
    write(
      "outbox",
      this.items.filter((i) => i.state !== "sent"),
    );
  }

  add(item) {
    this.items.push({ state: "queued", at: new Date().toISOString(), ...item });
    this.save();
    this.emit("change", item.ticket);
  }

  get(id) {
    return this.items.find((i) => i.client_msg_id === id);
  }

  update(id, patch) {
    const item = this.get(id);
    if (!item) return;
    Object.assign(item, patch);
    this.save();
    this.emit("change", item.ticket);
  }

  remove(id) {
    const item = this.get(id);
    if (!item) return;
    this.items = this.items.filter((i) => i !== item);
    this.save();
    this.emit("change", item.ticket);
  }

  forTicket(ticket) {
    return this.items.filter((i) => i.ticket === ticket);
  }

  unsentCount() {
    return this.items.filter((i) => i.state !== "sent").length;
  }
}

export const outbox = new Outbox();
