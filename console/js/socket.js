// The agent live channel: one WebSocket, requests matched by rid, pushes emitted by type,
// reconnecting by itself (at once after 1012, with capped jittered backoff otherwise).

import { Emitter } from "./emitter.js";

const SUBPROTOCOL = "chatdesk.json";
const UNAUTHORIZED = 4401;
const SERVICE_RESTART = 1012;
const PING_EVERY_MS = 25_000;
const PING_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 15_000;
const WELCOME_TIMEOUT_MS = 10_000;

export class WsError extends Error {
  constructor(code, detail, frame = {}) {
    super(detail || code);
    this.code = code;
    this.detail = detail || code;
    this.extra = frame;
  }
}

export function agentSocketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/agent`;
}

/**
 * States: idle → connecting → online ⇄ offline (retrying) ; unauthorized ; stopped.
 * Emits: welcome, unauthorized, offline {delay, code}, connecting, and every push type.
 */
export class AgentSocket extends Emitter {
  constructor(url = agentSocketUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.state = "idle";
    this.pending = new Map();
    this.counter = 0;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.retryAt = 0;
    this.refusal = null;
    this.welcomeTimer = null;
  }

  get online() {
    return this.state === "online";
  }

  start() {
    clearTimeout(this.retryTimer);
    const old = this.ws;
    this.ws = null;
    if (old) {
      old.onclose = null;
      old.onmessage = null;
      old.close(1000, "restart");
    }
    this.#stopPing();
    this.#failAll("offline", "Reconnecting…");
    this.attempt = 0;
    this.#open();
  }

  stop() {
    this.state = "stopped";
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    this.#stopPing();
    this.#failAll("offline", "The console was closed.");
    if (ws) ws.close(1000, "bye");
  }

  retryNow() {
    if (this.state === "offline") {
      clearTimeout(this.retryTimer);
      this.#open();
    }
  }

  /** Send a command and wait for its ok (resolves with the frame) or error (rejects WsError). */
  request(frame, timeoutMs = 15_000) {
    if (!this.online || !this.ws) {
      return Promise.reject(new WsError("offline", "Not connected; reconnecting…"));
    }
    const rid = `c${++this.counter}`;
    const ws = this.ws;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new WsError("timeout", "The server did not answer in time."));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...frame, rid }));
    });
  }

  /** Fire and forget (typing). Dropped when offline. */
  send(frame) {
    if (this.online && this.ws) this.ws.send(JSON.stringify(frame));
  }

  #open() {
    this.state = "connecting";
    this.refusal = null;
    this.emit("connecting", {});
    let ws;
    try {
      ws = new WebSocket(this.url, [SUBPROTOCOL]);
    } catch {
      this.#closed(null, 1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "hello" }));
      // A server that accepts the socket but never says welcome is as good as down.
      this.welcomeTimer = setTimeout(
        () => ws === this.ws && !this.online && this.#drop(ws, 1006),
        WELCOME_TIMEOUT_MS,
      );
    };
    ws.onmessage = (msg) => this.#frame(ws, msg.data);
    ws.onclose = (ev) => this.#closed(ws, ev.code);
  }

  #frame(ws, data) {
    if (ws !== this.ws || typeof data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (this.state !== "online") {
      if (frame.type === "welcome") {
        clearTimeout(this.welcomeTimer);
        this.state = "online";
        this.attempt = 0;
        this.#startPing();
        this.emit("welcome", frame);
      } else if (frame.type === "error") {
        this.refusal = frame;
      }
      return;
    }
    const waiting = frame.rid != null ? this.pending.get(frame.rid) : undefined;
    if ((frame.type === "ok" || frame.type === "error") && waiting) {
      this.pending.delete(frame.rid);
      clearTimeout(waiting.timer);
      if (frame.type === "ok") waiting.resolve(frame);
      else waiting.reject(new WsError(frame.code, frame.detail, frame));
      return;
    }
    this.emit(frame.type === "error" ? "error_frame" : frame.type, frame);
  }

  #closed(ws, code) {
    if (ws !== this.ws) return;
    clearTimeout(this.welcomeTimer);
    this.ws = null;
    this.#stopPing();
    this.#failAll("offline", "The connection dropped; it will be retried.");
    if (this.state === "stopped") return;
    if (code === UNAUTHORIZED || this.refusal?.code === "unauthorized") {
      this.state = "unauthorized";
      this.emit("unauthorized", this.refusal);
      return;
    }
    const delay = code === SERVICE_RESTART ? Math.random() * 250 : this.#backoff();
    this.state = "offline";
    this.retryAt = Date.now() + delay;
    this.emit("offline", { code, delay });
    this.retryTimer = setTimeout(() => this.#open(), delay);
  }

  #backoff() {
    const cap = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    return cap / 2 + (Math.random() * cap) / 2;
  }

  /** A socket that stopped answering: treat it as closed now, not after the browser's timeout. */
  #drop(ws, code) {
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(4000, "no answer");
    } catch {
      /* already closing */
    }
    this.#closed(ws, code);
  }

  #startPing() {
    this.#stopPing();
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      this.request({ type: "ping" }, PING_TIMEOUT_MS).catch((err) => {
        if (err.code === "timeout" && ws && ws === this.ws) this.#drop(ws, 1006);
      });
    }, PING_EVERY_MS);
  }

  #stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  #failAll(code, detail) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new WsError(code, detail));
    }
    this.pending.clear();
  }
}
