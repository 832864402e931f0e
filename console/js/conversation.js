// The middle column: watch the open ticket, show its timeline live (in seq order, filling
// gaps with `sync`), the visitor typing, read receipts, and the ticket's actions on top:
// claim, status (back-office names for back-office and tracker tickets), resolve
// internally, spam and restore, the attachment gallery; admins unmask masked messages.

import { api } from "./api.js";
import { $, clear, h } from "./dom.js";
import { deleteSpam, kindBadge, slaFlag } from "./lists.js";
import { errorToast, toast } from "./toast.js";
import {
  STATUS_LABELS,
  canWrite,
  reasonText,
  customerName,
  isAdmin,
  isBackoffice,
  isCollaborator,
  isMine,
  markRead,
  refreshTicket,
  state,
  statusText,
  store,
  ticketName,
  touch,
  upsert,
} from "./state.js";
import { outbox } from "./storage.js";
import { Timeline, dayDivider, renderEvent, renderPending } from "./timeline.js";
import { agoLong, day, full } from "./time.js";

const CACHE_SIZE = 20;
const TYPING_SHOWN_MS = 8000;
const MOVES = {
  open: ["pending", "solved"],
  pending: ["open", "solved"],
  solved: ["open"],
};
// Back-office and tracker tickets are worked without a claim (contract §8).
const BACKOFFICE_MOVES = {
  new: ["open", "pending", "solved"],
  open: ["pending", "solved"],
  pending: ["open", "solved"],
  solved: ["open"],
};
// Events after which the ticket's own fields (links, description…) are fetched again.
const REFETCH = new Set(["updated", "linked", "unlinked", "linked_status", "unmasked"]);

export class Conversation {
  constructor(root, { socket, sender, access, transfer, dialogs }) {
    this.root = root;
    this.socket = socket;
    this.sender = sender;
    this.access = access;
    this.transfer = transfer;
    this.dialogs = dialogs; // {gallery, resolve, tracker} opened from the actions
    this.refetchTimer = null;
    this.id = null;
    this.timeline = null;
    this.cache = new Map();
    this.lastDay = null;
    this.typingTimer = null;
    this.syncTimer = null;
    this.composer = null; // set by main
    this.el = {
      empty: $("#conv-empty", root),
      conv: $("#conv", root),
      name: $("#conv-name", root),
      id: $("#conv-id", root),
      kind: $("#conv-kind", root),
      status: $("#conv-status", root),
      sub: $("#conv-sub", root),
      actions: $("#conv-actions", root),
      scroller: $("#timeline", root),
      events: $("#events", root),
      pending: $("#pending", root),
      typing: $("#typing", root),
    };
    this.maskButton = h("button", {
      type: "button",
      class: "btn small mask-float",
      hidden: true,
      text: "Mask selection",
      title: "Replace the selected characters with * for good, e.g. a card number",
      onmousedown: (e) => e.preventDefault(),
      onclick: () => {
        this.maskButton.hidden = true;
        this.maskSelection();
      },
    });
    this.el.scroller.append(this.maskButton);
    this.el.scroller.addEventListener("mouseup", () => setTimeout(() => this.#offerMask(), 0));
    this.el.scroller.addEventListener("scroll", () => (this.maskButton.hidden = true));
    store.on("ticket", ({ ticket, old }) => {
      if (ticket.id !== this.id) return;
      this.renderHead();
      if (old?.visitor_read_seq !== ticket.visitor_read_seq) this.#markSeen();
    });
    store.on("presence", () => this.id != null && this.renderHead());
    outbox.on("change", (ticket) => ticket === this.id && this.renderPending());
  }

  get ticket() {
    return this.id == null ? null : state.tickets.get(this.id);
  }

  // ---------------------------------------------------------------- opening

  async open(id) {
    if (this.id === id) return;
    const prev = this.id;
    this.id = id;
    state.currentId = id;
    if (prev != null && !this.#owned(prev)) {
      this.socket.request({ type: "unwatch", ticket: prev }).catch(() => {});
    }
    markRead(id);
    this.timeline = this.cache.get(id) ?? new Timeline(id);
    this.cache.delete(id);
    this.cache.set(id, this.timeline);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
    this.el.empty.hidden = true;
    this.el.conv.hidden = false;
    this.hideTyping();
    this.renderHead();
    this.renderAll(true);
    store.emit("current", { id });
    store.emit("timeline", { id });
    if (!state.tickets.has(id) || state.tickets.get(id).links === undefined) this.#fetchTicket(id);
    await this.watch();
  }

  close() {
    const prev = this.id;
    this.id = null;
    state.currentId = null;
    if (prev != null && !this.#owned(prev)) {
      this.socket.request({ type: "unwatch", ticket: prev }).catch(() => {});
    }
    this.el.conv.hidden = true;
    this.el.empty.hidden = false;
    store.emit("current", { id: null });
  }

  #owned(id) {
    const t = state.tickets.get(id);
    return isMine(t) || isCollaborator(t);
  }

  /** The ticket's full record again, a moment after an event that changed its fields. */
  refetch() {
    const id = this.id;
    clearTimeout(this.refetchTimer);
    this.refetchTimer = setTimeout(() => id === this.id && this.#fetchTicket(id), 250);
  }

  async #fetchTicket(id) {
    try {
      await refreshTicket(id);
    } catch (err) {
      if (this.id === id && err.code === "not_found" && !err.missing) {
        this.#notFound(id);
      }
    }
  }

  #notFound(id) {
    this.el.name.textContent = `No ticket #${id}`;
    clear(this.el.actions);
    clear(this.el.events);
    this.el.events.append(h("p", { class: "empty", text: "It does not exist or was deleted." }));
  }

  /** Watch the open ticket: its missed events arrive in the answer, later ones live. */
  async watch() {
    const id = this.id;
    const tl = this.timeline;
    if (id == null || !this.socket.online) return;
    try {
      const ok = await this.socket.request({ type: "watch", ticket: id, after_seq: tl.contig });
      if (ok.ticket) upsert(ok.ticket);
      this.#addMany(tl, ok.events ?? []);
    } catch (err) {
      if (this.id !== id) return;
      if (err.code === "not_found") this.#notFound(id);
      else if (err.code !== "offline") errorToast(err, `Could not open #${id}`);
    }
  }

  /** After a reconnect or a `sync_needed`: watch again (a new socket has no watches). */
  async resync() {
    if (this.id != null) await this.watch();
  }

  async sync() {
    const id = this.id;
    const tl = this.timeline;
    if (id == null || !this.socket.online) return;
    try {
      const ok = await this.socket.request({ type: "sync", ticket: id, after_seq: tl.contig });
      this.#addMany(tl, ok.events ?? []);
    } catch (err) {
      if (err.code !== "offline") console.warn("sync failed", err);
    }
  }

  #scheduleSync() {
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => this.sync(), 300);
  }

  #addMany(tl, events) {
    let appendOnly = true;
    const added = [];
    for (const e of events) {
      const how = tl.add(e);
      if (!how) continue;
      added.push(e);
      if (how === "insert") appendOnly = false;
    }
    if (tl !== this.timeline || !added.length) return;
    for (const e of added) this.#settleOutbox(e);
    if (appendOnly && !added.some((e) => e.kind === "masked" || e.kind === "unmasked")) {
      for (const e of added) this.#append(e);
    } else this.renderAll(false);
    const last = added[added.length - 1];
    touch(last);
    if (added.some((e) => REFETCH.has(e.kind))) this.refetch();
    store.emit("timeline", { id: this.id });
    this.#afterChange(
      added.some((e) => e.author?.type === "agent" && e.author.id === state.me?.id),
    );
  }

  // ---------------------------------------------------------------- live pushes

  onEvent(e) {
    const current = e.ticket === this.id;
    const fromVisitor = e.kind === "message" && e.author?.type === "visitor";
    touch(e, { unread: fromVisitor && (!current || document.hidden) });
    const tl = current ? this.timeline : this.cache.get(e.ticket);
    if (!tl) return;
    if (!current) {
      if (e.seq === tl.contig + 1) tl.add(e); // cached timelines stay gap-free
      return;
    }
    const how = tl.add(e);
    if (!how) return;
    this.#settleOutbox(e);
    if (REFETCH.has(e.kind)) this.refetch();
    if (e.kind === "unmasked") this.#restoreUnmasked(tl, e);
    if ((e.kind === "masked" && applyMask(tl, e)) || e.kind === "unmasked") {
      this.renderAll(false);
      return;
    }
    if (fromVisitor) this.hideTyping();
    if (how === "append") this.#append(e);
    else this.renderAll(false);
    if (tl.hasGap()) this.#scheduleSync();
    store.emit("timeline", { id: this.id });
    this.#afterChange(e.author?.type === "agent" && e.author.id === state.me?.id);
  }

  /** After an unmask, the message as stored now (an `event_updated` push may bring it too). */
  async #restoreUnmasked(tl, e) {
    const target = e.target_seq;
    if (typeof target !== "number") return;
    try {
      const data = await api(`/tickets/${tl.ticket}/events`, {
        query: { after_seq: target - 1, limit: 1 },
      });
      const fresh = (data?.items ?? []).find((x) => x.seq === target);
      if (fresh) {
        tl.replace(fresh);
        if (tl === this.timeline) this.renderAll(false);
      }
    } catch {
      /* the masked version stays on screen */
    }
  }

  async unmask(seq) {
    if (!confirm("Show the masked characters of this message again, for everyone and in storage?"))
      return;
    try {
      await this.socket.request({ type: "unmask", ticket: this.id, seq });
      toast("Unmasked.");
    } catch (err) {
      errorToast(err, "Could not unmask");
    }
  }

  /** A stored event was rewritten (masked): show the new version. */
  onEventUpdated(e) {
    const tl = e.ticket === this.id ? this.timeline : this.cache.get(e.ticket);
    if (!tl?.events.has(e.seq)) return;
    tl.replace(e);
    if (tl === this.timeline) this.renderAll(false);
  }

  onTyping(frame) {
    if (frame.ticket !== this.id) return;
    if (!frame.on) {
      this.hideTyping();
      return;
    }
    const author = frame.author ?? {};
    const name =
      author.type === "visitor" ? customerName(this.ticket) : author.name || "A teammate";
    this.el.typing.textContent = `${name} is typing…`;
    this.el.typing.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_SHOWN_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.el.typing.hidden = true;
  }

  onRead(frame) {
    const t = state.tickets.get(frame.ticket);
    if (!t || (t.visitor_read_seq ?? 0) >= frame.seq) return;
    state.tickets.set(t.id, { ...t, visitor_read_seq: frame.seq });
    if (frame.ticket === this.id) this.#markSeen();
  }

  /** An acknowledged outbox message whose event is now on screen leaves the outbox. */
  #settleOutbox(e) {
    if (!e.client_msg_id || e.author?.type !== "agent" || e.author.id !== state.me?.id) return;
    if (outbox.get(e.client_msg_id)) outbox.remove(e.client_msg_id);
  }

  // ---------------------------------------------------------------- rendering

  renderAll(toBottom) {
    const scroller = this.el.scroller;
    const stick = toBottom || this.#nearBottom();
    clear(this.el.events);
    this.lastDay = null;
    const events = this.timeline?.sorted() ?? [];
    this.masked = maskedSeqs(events);
    if (!events.length) {
      this.el.events.append(
        h("p", { class: "empty", text: this.socket.online ? "Loading…" : "Offline" }),
      );
    }
    const frag = document.createDocumentFragment();
    for (const e of events) this.#append(e, frag);
    this.el.events.append(frag);
    this.renderPending();
    this.#markSeen();
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  #append(e, into = null) {
    const target = into ?? this.el.events;
    if (!into) target.querySelector(":scope > .empty")?.remove();
    const d = day(e.at);
    if (d !== this.lastDay) {
      target.append(dayDivider(e.at));
      this.lastDay = d;
    }
    const el = renderEvent(e, {
      me: state.me,
      ticket: this.ticket,
      masked: this.masked,
      onUnmask: isAdmin() ? (seq) => this.unmask(seq) : null,
    });
    if (el) target.append(el);
  }

  renderPending() {
    clear(this.el.pending);
    if (this.id == null) return;
    for (const item of outbox.forTicket(this.id)) {
      if (this.timeline?.hasClientMsg(item.client_msg_id)) continue;
      this.el.pending.append(
        renderPending(item, {
          onRetry: () => this.sender.retry(item.client_msg_id),
          onForce: () => this.sender.retry(item.client_msg_id, { force: true, banned: null }),
          onDiscard: () => outbox.remove(item.client_msg_id),
          onEdit: () => {
            outbox.remove(item.client_msg_id);
            this.composer?.restore(item);
          },
        }),
      );
    }
  }

  #afterChange(mine) {
    if (mine || this.#nearBottom(240)) {
      this.el.scroller.scrollTop = this.el.scroller.scrollHeight;
    }
  }

  #nearBottom(px = 120) {
    const s = this.el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < px;
  }

  #markSeen() {
    for (const old of this.el.events.querySelectorAll(".seen")) old.remove();
    const read = this.ticket?.visitor_read_seq ?? 0;
    if (!read) return;
    const outs = Array.from(this.el.events.querySelectorAll(".msg.out")).filter(
      (el) => Number(el.dataset.seq) <= read,
    );
    const last = outs[outs.length - 1];
    if (last) last.append(h("div", { class: "seen", text: "Seen" }));
  }

  renderHead() {
    const t = this.ticket;
    const el = this.el;
    if (!t) {
      el.name.textContent = this.id != null ? `#${this.id}` : "";
      el.id.textContent = "";
      el.status.textContent = "";
      clear(el.kind);
      clear(el.sub);
      clear(el.actions);
      this.composer?.updateLock();
      return;
    }
    el.name.textContent = ticketName(t);
    el.id.textContent = `#${t.id}`;
    clear(el.kind).append(kindBadge(t));
    el.status.textContent = statusText(t);
    el.status.className = `pill s-${t.status}`;
    clear(el.sub);
    const bits = [];
    if (isBackoffice(t)) {
      if (t.customer) bits.push(h("span", { text: customerName(t) }));
    } else if (t.subject) bits.push(h("span", { class: "subject", text: t.subject }));
    if (t.priority && t.priority !== "normal") {
      bits.push(h("span", { class: `prio p-${t.priority}`, text: `${t.priority} priority` }));
    }
    const sla = slaFlag(t);
    if (sla) bits.push(sla);
    if (t.visibility === "internal" && !isBackoffice(t)) {
      bits.push(h("span", { class: "internal-flag", text: "Internal only" }));
    }
    if (t.resolve_reason && ["solved", "spam", "closed"].includes(t.status)) {
      bits.push(h("span", { text: `resolved internally: ${reasonText(t.resolve_reason)}` }));
    }
    bits.push(h("span", { title: full(t.created_at), text: `started ${agoLong(t.created_at)}` }));
    if (t.assignee) {
      const status = state.presence.get(t.assignee.id) ?? "offline";
      bits.push(
        h(
          "span",
          null,
          h("span", { class: `dot ${status}`, title: status }),
          isMine(t) ? "assigned to you" : `assigned to ${t.assignee.name}`,
        ),
      );
    }
    const helpers = t.collaborators ?? [];
    if (helpers.length) {
      const owner = isMine(t) || isAdmin();
      bits.push(
        h(
          "span",
          { class: "helpers" },
          "with ",
          helpers.map((c, i) => [
            i ? ", " : "",
            c.id === state.me?.id ? "you" : c.name,
            owner
              ? h("button", {
                  type: "button",
                  class: "chip-x",
                  title: `Remove ${c.name} from this chat`,
                  "aria-label": `Remove ${c.name} from this chat`,
                  text: "×",
                  onclick: () => this.revoke(c),
                })
              : null,
          ]),
        ),
      );
    }
    if (t.group?.name) bits.push(h("span", { text: t.group.name }));
    if (t.site?.name) bits.push(h("span", { text: t.site.name }));
    bits.forEach((b, i) => {
      if (i) el.sub.append(h("span", { class: "sep", text: "·" }));
      el.sub.append(b);
    });
    this.#renderActions(t);
    this.composer?.updateLock();
  }

  #renderActions(t) {
    const box = this.el.actions;
    clear(box);
    const owner = isMine(t) || isAdmin();
    const back = isBackoffice(t);
    if (t.status === "spam") {
      box.append(button("Restore", "primary", () => this.restore()));
      if (isAdmin()) box.append(button("Delete", "danger", () => this.deleteSpam()));
      box.append(this.#menu(t));
      return;
    }
    if (t.status === "closed") {
      box.append(this.#menu(t));
      return;
    }
    if (t.status === "new" && !(back && canWrite(t))) {
      box.append(
        button("Claim", "primary", () => this.claim(), "c"),
        button("Transfer…", "", () => this.transfer.open(t)),
        this.#menu(t),
      );
      return;
    }
    if (!canWrite(t)) {
      const asked = this.access.pending.has(t.id);
      box.append(
        button(
          asked ? "Access requested" : "Request access",
          "primary",
          () => this.access.request(t.id),
          null,
          asked,
        ),
        this.#menu(t),
      );
      return;
    }
    if (owner && t.status === "open" && !back) {
      box.append(button("Release", "", () => this.release()));
    }
    if (owner) box.append(button("Transfer…", "", () => this.transfer.open(t)));
    const seg = h("div", { class: "segmented", role: "group", "aria-label": "Status" });
    const moves = back ? BACKOFFICE_MOVES : MOVES;
    for (const to of back ? ["new", "open", "pending", "solved"] : ["open", "pending", "solved"]) {
      const current = t.status === to;
      const allowed = (moves[t.status] ?? []).includes(to);
      const name = back ? STATUS_LABELS[to] : to;
      const short = back && to === "pending" ? "waiting" : name;
      seg.append(
        h("button", {
          type: "button",
          class: `seg s-${to}`,
          "aria-pressed": String(current),
          disabled: !current && !allowed,
          text: short[0].toUpperCase() + short.slice(1),
          title: current ? `The ticket is ${name}` : `Set the status to ${name}`,
          onclick: () => {
            if (current) return;
            if (to === "solved" && t.kind === "tracker") this.dialogs?.tracker.open(t);
            else this.setStatus(to);
          },
        }),
      );
    }
    box.append(seg, this.#menu(t));
  }

  /** More: resolve internally, spam, the attachment gallery. */
  #menu(t) {
    const items = [];
    const writable = canWrite(t) && !["closed", "spam"].includes(t.status);
    if (writable && ["open", "pending", "new"].includes(t.status)) {
      items.push(["Resolve internally…", () => this.dialogs?.resolve.open(t)]);
    }
    if (writable) items.push(["Mark as spam", () => this.markSpam()]);
    items.push(["Attachments", () => this.dialogs?.gallery.open(t)]);
    const list = h(
      "div",
      { class: "menu-list", role: "menu", hidden: true },
      items.map(([label, run]) =>
        h("button", {
          type: "button",
          role: "menuitem",
          class: "menu-item",
          text: label,
          onclick: () => {
            toggle(false);
            run();
          },
        }),
      ),
    );
    const opener = h("button", {
      type: "button",
      class: "btn small ghost",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-label": "More actions",
      text: "More ▾",
      onclick: () => toggle(list.hidden),
    });
    const toggle = (on) => {
      list.hidden = !on;
      opener.setAttribute("aria-expanded", String(on));
      if (on) list.querySelector("button")?.focus();
    };
    const menu = h(
      "div",
      { class: "menu", onkeydown: (e) => e.key === "Escape" && toggle(false) },
      opener,
      list,
    );
    return menu;
  }

  // ---------------------------------------------------------------- commands

  async command(frame, what) {
    try {
      return await this.socket.request(frame);
    } catch (err) {
      errorToast(err, what);
      throw err;
    }
  }

  /** Claim the open ticket; a second call while the first is on its way waits for it. */
  claim() {
    const id = this.id;
    if (id == null) return Promise.resolve(false);
    this.claiming ??= new Map();
    if (!this.claiming.has(id)) {
      const run = this.socket
        .request({ type: "claim", ticket: id })
        .then(() => true)
        .catch(async (err) => {
          await this.#fetchTicket(id);
          if (isMine(state.tickets.get(id))) return true; // claimed already, by this agent
          errorToast(err, `Could not claim #${id}`);
          return false;
        })
        .finally(() => this.claiming.delete(id));
      this.claiming.set(id, run);
    }
    return this.claiming.get(id);
  }

  async release() {
    await this.command({ type: "release", ticket: this.id }, "Could not release").catch(() => {});
  }

  async setStatus(to, extra = {}) {
    const t = this.ticket;
    const name = isBackoffice(t) ? (STATUS_LABELS[to] ?? to) : to;
    return this.command({ type: "status", ticket: this.id, to, ...extra }, `Could not set ${name}`)
      .then(() => true)
      .catch(() => false);
  }

  /** Solved without a word to the customer, with the reason why (spam: the spam box). */
  resolveInternally(reason) {
    if (reason === "spam") return this.setStatus("spam");
    return this.setStatus("solved", { reason });
  }

  async markSpam() {
    if (!confirm(`Move #${this.id} to the spam box? Nothing can be sent on it until restored.`))
      return;
    await this.setStatus("spam");
  }

  async restore() {
    await this.command({ type: "restore", ticket: this.id }, "Could not restore").catch(() => {});
  }

  async deleteSpam() {
    if (await deleteSpam(this.id)) location.hash = "#/";
  }

  async revoke(agent) {
    if (!confirm(`Remove ${agent.name} from #${this.id}? They can still read along.`)) return;
    await this.command(
      { type: "revoke_access", ticket: this.id, agent: agent.id },
      "Could not remove",
    ).catch(() => {});
  }

  async labels(add, remove) {
    const frame = { type: "labels", ticket: this.id };
    if (add?.length) frame.add = add;
    if (remove?.length) frame.remove = remove;
    await this.command(frame, "Could not change labels");
  }

  /** A selection inside one message or note of a writable ticket: offer to mask it. */
  #offerMask() {
    const sel = window.getSelection();
    const button = this.maskButton;
    button.hidden = true;
    if (!sel || sel.isCollapsed || !canWrite(this.ticket)) return;
    const range = sel.getRangeAt(0);
    const body = range.startContainer.parentElement?.closest(".body");
    if (!body || !body.contains(range.endContainer) || !body.closest("[data-seq]")) return;
    const rect = range.getBoundingClientRect();
    const box = this.el.scroller.getBoundingClientRect();
    button.style.top = `${rect.bottom - box.top + this.el.scroller.scrollTop + 6}px`;
    button.style.left = `${Math.max(8, rect.left - box.left)}px`;
    button.hidden = false;
  }

  /** Mask the selected part of a message (contract `mask`). */
  async maskSelection() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed) {
      toast("Select the text to mask in a message first.");
      return;
    }
    const range = sel.getRangeAt(0);
    const bodyEl = range.startContainer.parentElement?.closest(".body");
    const msg = bodyEl?.closest("[data-seq]");
    if (!bodyEl || !msg || !bodyEl.contains(range.endContainer)) {
      toast("Select text inside one message to mask it.");
      return;
    }
    const before = document.createRange();
    before.selectNodeContents(bodyEl);
    before.setEnd(range.startContainer, range.startOffset);
    // The server counts characters (code points), not UTF-16 units.
    const start = Array.from(before.toString()).length;
    const end = start + Array.from(range.toString()).length;
    try {
      await this.socket.request({
        type: "mask",
        ticket: this.id,
        seq: Number(msg.dataset.seq),
        ranges: [[start, end]],
      });
      toast("Masked.");
      sel.removeAllRanges();
    } catch (err) {
      errorToast(err, "Could not mask");
    }
  }
}

/** Seqs of messages with masked characters now (masked and not unmasked since). */
function maskedSeqs(events) {
  const seqs = new Set();
  for (const e of events) {
    if (e.kind === "masked") seqs.add(e.target_seq);
    else if (e.kind === "unmasked") seqs.delete(e.target_seq);
  }
  return seqs;
}

/** The masked message now reads `*` over the ranges, as it does in storage. */
function applyMask(tl, e) {
  const target = tl.events.get(e.target_seq);
  if (!target || typeof target.body !== "string") return false;
  const chars = Array.from(target.body);
  for (const [start, end] of e.ranges ?? []) {
    for (let i = Math.max(0, start); i < Math.min(end, chars.length); i++) chars[i] = "*";
  }
  tl.replace({ ...target, body: chars.join("") });
  return true;
}

function button(label, kind, onclick, key = null, disabled = false) {
  if (kind === "danger") kind = "ghost danger";
  return h("button", {
    type: "button",
    class: `btn ${kind}`.trim(),
    onclick,
    disabled,
    text: label,
    "aria-keyshortcuts": key,
    title: key ? `${label} (${key})` : null,
  });
}
