// The console's entry point: sign-in, the live channel and its pushes, routing by
// location.hash (#/t/12 opens a ticket, #/settings/agents a settings page), shortcuts.

import { Access } from "./access.js";
import { Admin } from "./admin.js";
import { api, apiEvents, describe } from "./api.js";
import { Bell } from "./bell.js";
import { Brief } from "./brief.js";
import { Composer } from "./composer.js";
import { Conversation } from "./conversation.js";
import { CreateTicket } from "./create.js";
import { Details } from "./details.js";
import { Gallery } from "./gallery.js";
import { ResolveDialog, TrackerDialog } from "./resolve.js";
import { $, isTyping } from "./dom.js";
import { Lists, refreshTimes } from "./lists.js";
import {
  askPermission,
  chime,
  desktop,
  isMuted,
  notificationPermission,
  setBadge,
  setMuted,
  unlockAudio,
} from "./notify.js";
import { Sender } from "./sender.js";
import { AgentSocket } from "./socket.js";
import {
  LISTS,
  countOf,
  customerName,
  flagSla,
  isBackoffice,
  isMine,
  loadLists,
  setPresence,
  setView,
  state,
  store,
  ticketName,
  upsert,
} from "./state.js";
import { drafts, outbox, useAgent } from "./storage.js";
import { errorToast, toast } from "./toast.js";
import { Transfer } from "./transfer.js";

const socket = new AgentSocket();
const sender = new Sender(socket);
const access = new Access($("#prompts"), { socket });
let conversation;
let composer;
let details;
let lists;
let admin;
let transfer;
let bell;
let brief;
let started = false;

// ------------------------------------------------------------------ screens

function screen(name) {
  $("#boot").hidden = name !== "boot";
  $("#login").hidden = name !== "login";
  $("#desk").hidden = name !== "desk";
}

function bootText(text) {
  $("#boot-text").textContent = text;
}

// ------------------------------------------------------------------ sign in and out

let totpChallenge = null;

function showLogin(message = "") {
  screen("login");
  $("#login-error").textContent = message;
  const form = $("#login-form");
  (form.elements.email.value ? form.elements.password : form.elements.email).focus();
}

async function submitLogin(e) {
  e.preventDefault();
  unlockAudio();
  const form = e.currentTarget;
  const error = $("#login-error");
  const button = form.querySelector("button[type=submit]");
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  error.textContent = "";
  if (!totpChallenge && (!email || !password)) {
    error.textContent = "Enter your e-mail and password.";
    return;
  }
  button.disabled = true;
  try {
    const res = totpChallenge
      ? await api("/auth/login/totp", {
          method: "POST",
          json: { challenge: totpChallenge, code: form.elements.code.value.trim() },
        })
      : await api("/auth/login", { method: "POST", json: { email, password } });
    if (res?.totp_required) {
      totpChallenge = res.challenge;
      $("#totp-field").hidden = false;
      form.elements.code.focus();
      return;
    }
    totpChallenge = null;
    $("#totp-field").hidden = true;
    form.elements.password.value = "";
    screen("boot");
    bootText("Signing in…");
    socket.start();
  } catch (err) {
    error.textContent =
      err.code === "unauthorized"
        ? totpChallenge
          ? "That code did not work; try the current one."
          : "Wrong e-mail or password."
        : describe(err);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  const unsent = outbox.unsentCount();
  if (unsent && !confirm(`${unsent} message(s) are not sent yet. Log out anyway?`)) return;
  drafts.flush();
  try {
    await api("/auth/logout", { method: "POST" });
  } catch (err) {
    errorToast(err, "Could not log out");
    return;
  }
  socket.stop();
  location.hash = "";
  location.reload();
}

// ------------------------------------------------------------------ the live channel

socket.on("welcome", async (frame) => {
  const agent = frame.agent;
  if (state.me && state.me.id !== agent.id) {
    location.reload(); // someone else signed in on this tab: start clean
    return;
  }
  const first = !started;
  state.me = agent;
  banner(null);
  if (first) {
    started = true;
    useAgent(agent.id);
    startDesk(agent);
  }
  screen("desk");
  sender.flush(); // what waited for the connection goes first, before the lists reload
  try {
    await loadLists();
  } catch (err) {
    errorToast(err, "Could not load the ticket lists");
  }
  bell.load();
  if (first) route();
  else await conversation.resync();
  sender.flush();
});

socket.on("unauthorized", () => {
  banner(null);
  showLogin(started ? "Your session ended; sign in again. Nothing you typed is lost." : "");
});

socket.on("connecting", () => {
  if (!started) bootText("Connecting…");
  else if (!$("#banner").hidden) banner("Reconnecting…");
});

socket.on("offline", ({ delay }) => {
  if (!started) {
    bootText("Cannot reach the server; retrying…");
    return;
  }
  countdown(delay);
});

socket.on("queue", ({ ticket }) => {
  const old = state.tickets.get(ticket.id);
  const merged = upsert(ticket);
  if (merged?.status === "new" && old?.status !== "new" && state.loaded && !isBackoffice(merged)) {
    newChat(merged);
  }
});

socket.on("sla", ({ ticket, breach }) => {
  if (ticket == null) return;
  flagSla(ticket, breach);
  const t = state.tickets.get(ticket);
  const part = breach === "first_response" ? "first response" : "resolution";
  toast(`SLA breached: the ${part} of #${ticket}${t ? ` (${ticketName(t)})` : ""} is overdue.`, {
    kind: "error",
    ms: 15000,
    action: { label: "Open", run: () => go(ticket) },
  });
  desktop(
    `SLA breached on #${ticket}`,
    `The ${part} is overdue`,
    () => go(ticket),
    `sla-${ticket}`,
  );
});

socket.on("notification", ({ notification }) => bell?.push(notification));

socket.on("event", ({ event }) => {
  if (!event) return;
  conversation.onEvent(event);
  access.onEvent(event);
  const t = state.tickets.get(event.ticket);
  if (event.kind === "message" && event.author?.type === "visitor" && t && isMine(t)) {
    desktop(customerName(t), event.body ?? "", () => go(t.id), `ticket-${t.id}`);
  }
});

socket.on("event_updated", ({ event }) => event && conversation.onEventUpdated(event));
socket.on("typing", (f) => conversation.onTyping(f));
socket.on("read", (f) => conversation.onRead(f));
socket.on("presence", (f) => {
  setPresence(f.agents);
  renderPresence();
});
socket.on("access_request", (f) => access.onRequest(f));
socket.on("access_answer", (f) => access.onAnswer(f));
socket.on("sync_needed", async () => {
  await loadLists().catch(() => {});
  await conversation.sync();
});
socket.on("error_frame", (f) => console.warn("server error frame", f));

apiEvents.on("unauthorized", () => {
  if (socket.state !== "unauthorized")
    showLogin("Your session ended; sign in again. Nothing you typed is lost.");
});

function newChat(t) {
  const me = state.presence.get(state.me?.id);
  if (me !== "away") chime();
  desktop(`New chat: ${customerName(t)}`, t.subject ?? "", () => go(t.id), `new-${t.id}`);
}

// ------------------------------------------------------------------ banner

let countdownTimer = null;

function banner(text, withRetry = false) {
  const el = $("#banner");
  clearInterval(countdownTimer);
  if (!text) {
    el.hidden = true;
    document.body.classList.remove("offline");
    return;
  }
  el.hidden = false;
  document.body.classList.add("offline");
  el.replaceChildren(document.createTextNode(text));
  if (withRetry) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn small";
    b.textContent = "Retry now";
    b.addEventListener("click", () => socket.retryNow());
    el.append(" ", b);
  }
}

function countdown(delay) {
  const until = Date.now() + delay;
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    const unsent = outbox.unsentCount();
    const kept = unsent
      ? ` ${unsent} unsent message(s) will go out then.`
      : " What you type is kept.";
    banner(`Offline. Reconnecting ${left ? `in ${left}s` : "now"}…${kept}`, true);
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
}

// ------------------------------------------------------------------ the desk

function startDesk(agent) {
  $("#me").textContent = agent.name;
  $("#me").title = `${agent.email} (${agent.role})`;
  transfer = new Transfer($("#transfer-dialog"), { socket });
  const dialogs = {};
  conversation = new Conversation($("#conversation"), {
    socket,
    sender,
    access,
    transfer,
    dialogs,
  });
  dialogs.gallery = new Gallery({ conversation });
  dialogs.resolve = new ResolveDialog({ conversation });
  dialogs.tracker = new TrackerDialog({ conversation });
  composer = new Composer($("#composer"), { socket, conversation, access });
  conversation.composer = composer;
  const create = new CreateTicket({ go, conversation });
  details = new Details($("#details"), { conversation, create });
  create.details = details;
  brief = new Brief($("#conv-brief"));
  bell = new Bell({ go });
  lists = new Lists($("#lists"), {
    socket,
    onCreate: () => create.open({ kind: "customer" }),
  });
  admin = new Admin($("#admin"), { onClose: () => go(state.currentId) });
  lists.render();
  store.on("timeline", ({ id }) => {
    if (id === conversation.id) access.scan(id, conversation.timeline?.sorted() ?? []);
  });
  store.on("ticket", () => setBadge(countOf("new")));
  store.on("lists", () => setBadge(countOf("new")));
  wireTopbar();
  setInterval(() => {
    refreshTimes();
    conversation.renderHead();
  }, 30_000);
  setInterval(() => refreshTimes($("#list-body")), 10_000);
}

function wireTopbar() {
  $("#details-toggle").addEventListener("click", () => {
    const on = document.body.classList.toggle("show-details");
    $("#details-toggle").setAttribute("aria-expanded", String(on));
  });
  $("#logout").addEventListener("click", logout);
  $("#help-open").addEventListener("click", () => $("#help-dialog").showModal());
  const sound = $("#sound-toggle");
  const paintSound = () => {
    sound.setAttribute("aria-pressed", String(!isMuted()));
    sound.textContent = isMuted() ? "Sound off" : "Sound on";
  };
  paintSound();
  sound.addEventListener("click", () => {
    setMuted(!isMuted());
    paintSound();
    unlockAudio();
    if (!isMuted()) chime();
  });
  const notifyBtn = $("#notify-enable");
  notifyBtn.hidden = notificationPermission() !== "default";
  notifyBtn.addEventListener("click", async () => {
    const result = await askPermission();
    notifyBtn.hidden = result !== "default";
    if (result === "denied")
      toast("Desktop notifications are blocked in the browser's site settings.");
  });
  $("#presence-toggle").addEventListener("click", togglePresence);
  $("#settings-open").textContent = state.me?.role === "admin" ? "Admin" : "Settings";
  document.addEventListener("pointerdown", unlockAudio, { once: true });
}

function renderPresence() {
  const status = state.presence.get(state.me?.id) ?? "online";
  const btn = $("#presence-toggle");
  btn.dataset.status = status;
  btn.querySelector(".dot").className = `dot ${status}`;
  btn.querySelector(".presence-label").textContent = status === "away" ? "Away" : "Online";
}

async function togglePresence() {
  const now = state.presence.get(state.me?.id) ?? "online";
  const next = now === "away" ? "online" : "away";
  try {
    await socket.request({ type: "presence", status: next });
    state.presence.set(state.me.id, next);
    renderPresence();
  } catch (err) {
    errorToast(err, "Could not change your status");
  }
}

// ------------------------------------------------------------------ routing

function go(id) {
  location.hash = id == null ? "#/" : `#/t/${id}`;
}

function route() {
  if (!started) return;
  const hash = location.hash;
  const settings = /^#\/settings(?:\/([\w-]+))?/.exec(hash);
  $("#admin").hidden = !settings;
  document.body.classList.toggle("in-settings", Boolean(settings));
  if (settings) {
    admin.show(settings[1]);
    return;
  }
  const ticket = /^#\/t\/(\d+)/.exec(hash);
  if (ticket) {
    const id = Number(ticket[1]);
    composer.setTicket(id);
    details.setTicket(id);
    brief.setTicket(id);
    conversation.open(id);
  } else if (state.currentId != null) {
    composer.setTicket(null);
    details.setTicket(null);
    brief.setTicket(null);
    conversation.close();
  }
}

window.addEventListener("hashchange", route);

// ------------------------------------------------------------------ keyboard

function step(delta) {
  const ids = lists.visibleIds();
  if (!ids.length) return;
  const at = ids.indexOf(state.currentId);
  const next =
    at < 0 ? (delta > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + delta));
  go(ids[next]);
  document
    .querySelector(`#list-body [data-ticket="${ids[next]}"]`)
    ?.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (e) => {
  if (!started || e.defaultPrevented || document.querySelector("dialog[open]")) return;
  if (!$("#desk").hidden && e.altKey && !e.ctrlKey && !e.metaKey && /^[1-8]$/.test(e.key)) {
    e.preventDefault();
    setView(LISTS[Number(e.key) - 1].key);
    return;
  }
  if (e.key === "Escape") {
    composer.kb.close();
    composer.canned.close();
    return;
  }
  if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey || $("#desk").hidden) return;
  const t = state.tickets.get(state.currentId);
  const actions = {
    j: () => step(1),
    k: () => step(-1),
    r: () => composer.focus("reply"),
    n: () => composer.focus("note"),
    c: () => t?.status === "new" && conversation.claim(),
    "/": () => lists.focusSearch(),
    "?": () => $("#help-dialog").showModal(),
  };
  const action = actions[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.currentId != null) {
    const t = state.tickets.get(state.currentId);
    if (t?.unread) state.tickets.set(t.id, { ...t, unread: false });
  }
});
window.addEventListener("online", () => socket.retryNow());
document.addEventListener("pointerdown", (e) => {
  for (const menu of document.querySelectorAll(".menu")) {
    if (menu.contains(e.target)) continue;
    const list = menu.querySelector(".menu-list");
    if (list && !list.hidden) {
      list.hidden = true;
      menu.querySelector("[aria-expanded]")?.setAttribute("aria-expanded", "false");
    }
  }
});
window.addEventListener("beforeunload", () => drafts.flush());

// ------------------------------------------------------------------ start

$("#login-form").addEventListener("submit", submitLogin);
socket.start();
