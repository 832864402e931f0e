// Helping on a teammate's chat: "Request access" asks its assignee; the assignee (or an
// admin) gets a Grant / Deny prompt from an `access_request` push and answers it.

import { clear, h } from "./dom.js";
import { customerName, isAdmin, isMine, state, store } from "./state.js";
import { errorToast, toast } from "./toast.js";
import { chime, desktop } from "./notify.js";

export class Access {
  constructor(prompts, { socket }) {
    this.box = prompts;
    this.socket = socket;
    this.pending = new Set(); // tickets I asked to join
    this.asks = new Map(); // `${ticket}:${agent}` -> prompt element
  }

  async request(ticket) {
    try {
      await this.socket.request({ type: "request_access", ticket });
      this.pending.add(ticket);
      const t = state.tickets.get(ticket);
      toast(`Asked ${t?.assignee?.name ?? "the assignee"} to let you join #${ticket}.`);
      this.#changed(ticket);
    } catch (err) {
      const notYet = err.code === "forbidden" && /not available/i.test(err.detail ?? "");
      errorToast(
        notYet ? { detail: "Requesting access is not available on this server yet." } : err,
        notYet ? "" : "Could not ask for access",
      );
    }
  }

  /**
   * Requests made while this console was not listening: on opening one of my tickets,
   * every teammate whose latest access event is "requested" still waits for an answer.
   */
  scan(ticketId, events) {
    const t = state.tickets.get(ticketId);
    if (!t || !(isMine(t) || isAdmin())) return;
    const latest = new Map();
    for (const e of events) if (e.kind === "access" && e.agent) latest.set(e.agent.id, e);
    for (const e of latest.values()) {
      if (e.state === "requested") this.onRequest({ ticket: ticketId, agent: e.agent }, true);
      else this.#dismiss(`${ticketId}:${e.agent.id}`);
    }
  }

  /** Someone asks to join one of my tickets; or (with a `granted` field) the answer to me. */
  onRequest(frame, quiet = false) {
    if ("granted" in frame || "grant" in frame) {
      this.onAnswer(frame);
      return;
    }
    const agent = frame.agent ?? {};
    const key = `${frame.ticket}:${agent.id}`;
    if (this.asks.has(key)) return;
    const t = state.tickets.get(frame.ticket);
    const who = agent.name || `Agent #${agent.id}`;
    const prompt = h(
      "div",
      {
        class: "prompt",
        role: "alertdialog",
        "aria-label": `${who} asks to join #${frame.ticket}`,
      },
      h(
        "p",
        null,
        h("strong", { text: who }),
        ` asks to join #${frame.ticket}`,
        t ? ` (${customerName(t)})` : "",
        ".",
      ),
      h(
        "div",
        { class: "prompt-actions" },
        h("button", {
          type: "button",
          class: "btn primary small",
          text: "Grant",
          onclick: () => this.answer(frame, true),
        }),
        h("button", {
          type: "button",
          class: "btn small",
          text: "Deny",
          onclick: () => this.answer(frame, false),
        }),
        h("a", { class: "btn ghost small", href: `#/t/${frame.ticket}`, text: "Open" }),
      ),
    );
    this.asks.set(key, prompt);
    this.box.append(prompt);
    if (quiet) return;
    chime();
    desktop(
      `${who} asks to join`,
      `#${frame.ticket} ${t ? customerName(t) : ""}`,
      () => {
        location.hash = `#/t/${frame.ticket}`;
      },
      `access-${key}`,
    );
  }

  async answer(frame, grant) {
    const key = `${frame.ticket}:${frame.agent?.id}`;
    const prompt = this.asks.get(key);
    prompt?.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await this.socket.request({
        type: "answer_access",
        ticket: frame.ticket,
        agent: frame.agent.id,
        grant,
      });
      this.#dismiss(key);
    } catch (err) {
      prompt?.querySelectorAll("button").forEach((b) => (b.disabled = false));
      errorToast(err, "Could not answer");
    }
  }

  onAnswer(frame) {
    const granted = frame.granted ?? frame.grant;
    const who = frame.agent?.name ?? "The assignee";
    this.pending.delete(frame.ticket);
    toast(
      granted
        ? `${who} let you join #${frame.ticket}: you can write there now.`
        : `${who} declined your request to join #${frame.ticket}.`,
      { kind: granted ? "info" : "error" },
    );
    this.#changed(frame.ticket);
  }

  /** An `access` event on the timeline: the request was answered (maybe by someone else). */
  onEvent(e) {
    if (e.kind !== "access" || !e.agent) return;
    if (e.state === "granted" || e.state === "denied") {
      this.#dismiss(`${e.ticket}:${e.agent.id}`);
      if (e.agent.id === state.me?.id && this.pending.delete(e.ticket)) this.#changed(e.ticket);
    }
  }

  #dismiss(key) {
    this.asks.get(key)?.remove();
    this.asks.delete(key);
  }

  #changed(ticket) {
    const t = state.tickets.get(ticket);
    if (t) store.emit("ticket", { ticket: t, old: t });
  }

  reset() {
    clear(this.box);
    this.asks.clear();
    this.pending.clear();
  }
}
