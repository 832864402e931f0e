// Sends the outbox in order over the live channel. A message that failed because the
// connection dropped stays queued and goes again after the reconnect, with the same
// client_msg_id (the server stores it once); one the server refused is marked failed. A reply
// refused for a banned word waits for the agent's "Send anyway", which resends with force.

import { describe } from "./api.js";
import { outbox } from "./storage.js";

const TRANSIENT = new Set(["offline", "timeout", "unavailable", "rate_limited"]);
const SENT_KEPT_MS = 10_000;

export function frameOf(item) {
  const frame = {
    type: item.type,
    ticket: item.ticket,
    client_msg_id: item.client_msg_id,
    body: item.body,
  };
  const ids = (item.attachments ?? []).map((a) => a.id);
  if (ids.length) frame.attachments = ids;
  if (item.type === "note" && item.cross_post) frame.cross_post = true;
  if (item.type === "send" && item.force) frame.force = true;
  return frame;
}

export class Sender {
  constructor(socket) {
    this.socket = socket;
    this.running = false;
    this.retryTimer = null;
    outbox.on("change", () => this.flush());
  }

  async flush() {
    if (this.running || !this.socket.online) return;
    this.running = true;
    try {
      for (;;) {
        const now = Date.now();
        const item = outbox.items.find((i) => i.state === "queued" && !(i.retryAt > now));
        if (!item || !this.socket.online) break;
        outbox.update(item.client_msg_id, { state: "sending", error: null });
        try {
          const ok = await this.socket.request(frameOf(item));
          outbox.update(item.client_msg_id, { state: "sent", seq: ok.seq });
          setTimeout(() => outbox.remove(item.client_msg_id), SENT_KEPT_MS);
        } catch (err) {
          if (TRANSIENT.has(err.code)) {
            const wait = Number(err.extra?.retry_after) * 1000 || 3000;
            outbox.update(item.client_msg_id, { state: "queued", retryAt: Date.now() + wait });
            clearTimeout(this.retryTimer);
            this.retryTimer = setTimeout(() => this.flush(), wait);
            break;
          }
          const banned = err.code === "bad_request" ? (err.extra?.word ?? null) : null;
          outbox.update(item.client_msg_id, { state: "failed", error: describe(err), banned });
        }
      }
    } finally {
      this.running = false;
    }
  }

  retry(id, patch = {}) {
    outbox.update(id, { state: "queued", retryAt: 0, error: null, ...patch });
  }
}
