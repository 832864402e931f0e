// One ticket's timeline as DOM: messages as bubbles (visitor left, agents right), internal
// notes set apart in yellow, system events as quiet centred lines, attachments with image
// previews, day separators. Text only ever goes through text nodes.

import { h, linkify } from "./dom.js";
import { STATUS_LABELS, reasonText } from "./state.js";
import { bytes, clock, day, full } from "./time.js";

/** Events by seq; `contig` is the highest seq up to which nothing is missing. */
export class Timeline {
  constructor(ticket) {
    this.ticket = ticket;
    this.events = new Map();
    this.contig = 0;
  }

  /** Returns "append" (after everything held), "insert" (into the middle) or null (had it). */
  add(event) {
    if (typeof event?.seq !== "number" || this.events.has(event.seq)) return null;
    const max = this.maxSeq();
    this.events.set(event.seq, event);
    while (this.events.has(this.contig + 1)) this.contig += 1;
    return event.seq > max ? "append" : "insert";
  }

  /** Replace an event in place (a masked message). */
  replace(event) {
    if (this.events.has(event.seq)) this.events.set(event.seq, event);
  }

  maxSeq() {
    let max = 0;
    for (const seq of this.events.keys()) if (seq > max) max = seq;
    return max;
  }

  hasGap() {
    return this.maxSeq() > this.contig;
  }

  sorted() {
    return Array.from(this.events.values()).sort((a, b) => a.seq - b.seq);
  }

  hasClientMsg(id) {
    for (const e of this.events.values()) if (e.client_msg_id === id) return true;
    return false;
  }
}

function who(author, me) {
  if (!author) return "Someone";
  if (author.type === "agent" && me && author.id === me.id) return "You";
  if (author.type === "system") return "chatdesk";
  return author.name || (author.type === "visitor" ? "Visitor" : "Agent");
}

function stamp(iso) {
  return h("time", { datetime: iso, title: full(iso), text: clock(iso) });
}

function attachmentsOf(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h(
    "div",
    { class: "attachments" },
    list.map((a) => {
      const isImage = typeof a.content_type === "string" && a.content_type.startsWith("image/");
      const name = a.filename || "attachment";
      if (isImage && a.url) {
        return h(
          "a",
          {
            class: "attachment image",
            href: a.url,
            target: "_blank",
            rel: "noopener noreferrer",
            title: name,
          },
          h("img", { src: a.url, alt: name, loading: "lazy" }),
        );
      }
      return h(
        "a",
        {
          class: "attachment file",
          href: a.url,
          target: "_blank",
          rel: "noopener noreferrer",
          download: name,
        },
        h("span", { class: "file-icon", "aria-hidden": "true", text: "📎" }),
        h("span", { class: "file-name", text: name }),
        a.size != null ? h("span", { class: "file-size", text: bytes(a.size) }) : null,
      );
    }),
  );
}

function bodyOf(text) {
  return h("div", { class: "body" }, linkify(String(text ?? "")));
}

const KIND_NAMES = { backoffice: "back-office ticket", tracker: "tracker", customer: "ticket" };
const FIELD_NAMES = { cc: "CC", visibility: "visibility", attributes: "the attributes" };

function shortValue(v) {
  if (v == null || v === "") return "nothing";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "nothing";
  if (typeof v === "object") return v.name ?? "…";
  const text = String(v);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

function changes(fields) {
  const parts = [];
  for (const [field, change] of Object.entries(fields ?? {})) {
    const label = FIELD_NAMES[field] ?? field.replace(/_/g, " ");
    if (["description", "attributes"].includes(field) || !change || typeof change !== "object") {
      parts.push(`changed ${label}`);
    } else {
      parts.push(`set ${label} to ${shortValue(change.to)}`);
    }
  }
  return parts.join(", ") || "updated the ticket";
}

/** A quiet centred line for what happened to the ticket. */
function systemText(e, me, ticket) {
  const name = who(e.author, me);
  const back = ticket?.kind === "backoffice" || ticket?.kind === "tracker";
  const statusName = (s) => (back ? (STATUS_LABELS[s] ?? s) : s);
  const agentName = (a) => (a ? (me && a.id === me.id ? "you" : a.name || `agent #${a.id}`) : "");
  switch (e.kind) {
    case "status":
      if (e.from === "new" && e.to === "open" && !back) return null; // the "assigned" line
      if (e.to === "new" && !back) return null;
      if (e.to === "spam") return `${name} moved the ticket to the spam box`;
      if (e.from === "spam") return `${name} restored the ticket from the spam box`;
      if (e.reason && e.to === "solved") {
        return `${name} resolved the ticket internally (${reasonText(e.reason)})`;
      }
      return `${name} set the status to ${statusName(e.to)}`;
    case "assigned": {
      const group = e.group?.name ? ` in ${e.group.name}` : "";
      if (!e.assignee) return `${name} put the chat back in the queue${group}`;
      if (e.author && e.assignee.id === e.author.id) return `${name} claimed the chat${group}`;
      return `${name} assigned the chat to ${agentName(e.assignee)}${group}`;
    }
    case "labels": {
      const parts = [];
      const labels = (list) => `${list.length > 1 ? "labels" : "label"} ${list.join(", ")}`;
      if (e.added?.length) parts.push(`added the ${labels(e.added)}`);
      if (e.removed?.length) parts.push(`removed the ${labels(e.removed)}`);
      return `${name} ${parts.join(" and ") || "changed the labels"}`;
    }
    case "access": {
      const target = agentName(e.agent);
      switch (e.state) {
        case "requested":
          return `${e.agent ? target : name} asked to join`;
        case "granted":
          return `${name} let ${target} join`;
        case "denied":
          return `${name} declined ${target}'s request to join`;
        case "revoked":
          return `${name} removed ${target}`;
        default:
          return `${name}: access ${e.state}`;
      }
    }
    case "masked":
      return `${name} masked part of an earlier message`;
    case "unmasked":
      return `${name} unmasked an earlier message`;
    case "linked": {
      if (e.relation === "follow_up") return `Follow-up of #${e.other}`;
      // The relation names the non-customer side: on a back-office ticket, the other one
      // is (most often) the conversation.
      const known = ticket?.links?.find((l) => l.ticket === e.other)?.kind;
      const kind = known ?? (back ? null : e.relation);
      if (kind === "backoffice" || kind === "tracker") {
        return `${name} linked the ${KIND_NAMES[kind]} #${e.other}`;
      }
      if (kind === "customer") return `${name} linked the conversation #${e.other}`;
      return `${name} linked #${e.other}`;
    }
    case "unlinked":
      return `${name} unlinked #${e.other}`;
    case "linked_status": {
      const label = e.status_label ?? STATUS_LABELS[e.to] ?? e.to;
      const kind = e.other_kind ?? ticket?.links?.find((l) => l.ticket === e.other)?.kind;
      return `${KIND_NAMES[kind] ?? "Linked ticket"} #${e.other} is now ${label}`.replace(
        /^./,
        (c) => c.toUpperCase(),
      );
    }
    case "created":
      return `${name} created this ${KIND_NAMES[ticket?.kind] ?? "ticket"}`;
    case "rating":
      return `Customer rated ${e.score}/5${e.comment ? `: “${e.comment}”` : ""}`;
    case "updated":
      return `${name} ${changes(e.fields)}`;
    case "email_sent":
      return `E-mail sent to ${(e.to ?? []).join(", ")}`;
    case "email_received":
      return `E-mail received from ${e.from}`;
    default:
      return `${name}: ${e.kind}`;
  }
}

export function renderEvent(e, ctx) {
  const me = ctx.me;
  if (e.kind === "message") {
    const side = e.author?.type === "visitor" ? "in" : "out";
    const mine = e.author?.type === "agent" && me && e.author.id === me.id;
    return h(
      "article",
      {
        class: `msg ${side}${mine ? " mine" : ""}`,
        dataset: { seq: e.seq, kind: "message", author: e.author?.type },
      },
      h(
        "header",
        { class: "msg-head" },
        h("span", { class: "author", text: who(e.author, me) }),
        e.via && e.via !== "chat" ? h("span", { class: "via", text: VIA[e.via] ?? e.via }) : null,
        stamp(e.at),
        unmaskButton(e, ctx),
      ),
      h("div", { class: "bubble" }, bodyOf(e.body), attachmentsOf(e.attachments)),
    );
  }
  if (e.kind === "note") {
    return h(
      "article",
      { class: "note", dataset: { seq: e.seq, kind: "note" } },
      h(
        "header",
        { class: "msg-head" },
        h("span", { class: "note-tag", text: "Internal note" }),
        h("span", { class: "author", text: who(e.author, me) }),
        e.cross_posted_from
          ? h(
              "a",
              {
                class: "via cross",
                href: `#/t/${e.cross_posted_from}`,
                title: "Cross-posted from a linked back-office ticket",
              },
              `from #${e.cross_posted_from}`,
            )
          : null,
        e.cross_posted_to?.length
          ? h("span", {
              class: "via cross",
              title: "Also posted on the linked tickets",
              text: `cross-posted to ${e.cross_posted_to.map((id) => `#${id}`).join(", ")}`,
            })
          : null,
        stamp(e.at),
        unmaskButton(e, ctx),
      ),
      bodyOf(e.body),
      attachmentsOf(e.attachments),
    );
  }
  const text = systemText(e, me, ctx.ticket);
  if (text == null) return null;
  return h(
    "div",
    { class: `sys sys-${e.kind}`, dataset: { seq: e.seq, kind: e.kind } },
    h("span", { text }),
    h("span", { class: "sys-sep", text: " · " }),
    stamp(e.at),
  );
}

const VIA = { email: "e-mail", phone: "phone", other: "recorded" };

/** Admins may show a masked message's characters again (contract `unmask`). */
function unmaskButton(e, ctx) {
  if (!ctx.onUnmask || !ctx.masked?.has(e.seq)) return null;
  return h("button", {
    type: "button",
    class: "btn small ghost unmask",
    text: "Unmask",
    title: "Show the masked characters again (admins)",
    onclick: () => ctx.onUnmask(e.seq),
  });
}

export function dayDivider(iso) {
  return h("div", { class: "day", role: "separator" }, h("span", { text: day(iso) }));
}

/** A message of the outbox: queued, sending, sent (awaiting its event) or failed. */
export function renderPending(item, { onRetry, onDiscard, onEdit, onForce }) {
  const note = item.type === "note";
  if (item.state === "failed" && item.banned) {
    return h(
      "article",
      { class: "msg out mine pending failed banned", dataset: { pending: item.client_msg_id } },
      h(
        "header",
        { class: "msg-head" },
        h("span", { class: "author", text: "You" }),
        h("span", {
          class: "pending-state",
          text: `Not sent: it contains the banned word “${item.banned}”.`,
        }),
      ),
      h("div", { class: "bubble" }, bodyOf(item.body), attachmentsOf(item.attachments)),
      h(
        "div",
        { class: "pending-actions", role: "group", "aria-label": "Send anyway?" },
        h("span", { class: "confirm-text", text: "Send anyway?" }),
        h("button", { type: "button", class: "btn small", text: "Send anyway", onclick: onForce }),
        h("button", { type: "button", class: "btn small ghost", text: "Edit", onclick: onEdit }),
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "Discard",
          onclick: onDiscard,
        }),
      ),
    );
  }
  const state = {
    queued: "Waiting for the connection…",
    sending: "Sending…",
    sent: "Sent",
    failed: item.error ? `Not sent: ${item.error}` : "Not sent",
  }[item.state];
  return h(
    "article",
    {
      class: `${note ? "note" : "msg out mine"} pending ${item.state}`,
      dataset: { pending: item.client_msg_id },
    },
    h(
      "header",
      { class: "msg-head" },
      note ? h("span", { class: "note-tag", text: "Internal note" }) : null,
      h("span", { class: "author", text: "You" }),
      h("span", { class: "pending-state", text: state }),
    ),
    h("div", { class: note ? "" : "bubble" }, bodyOf(item.body), attachmentsOf(item.attachments)),
    item.state === "failed"
      ? h(
          "div",
          { class: "pending-actions" },
          h("button", { type: "button", class: "btn small", text: "Retry", onclick: onRetry }),
          h("button", { type: "button", class: "btn small ghost", text: "Edit", onclick: onEdit }),
          h("button", {
            type: "button",
            class: "btn small ghost",
            text: "Discard",
            onclick: onDiscard,
          }),
        )
      : null,
  );
}
