// The composer: Reply or internal Note, Enter to send and Shift+Enter for a new line, "/"
// for canned responses, knowledge base answers, files by button, paste or drop. Drafts are
// kept per ticket; what is sent goes through the outbox so a dropped connection loses nothing.
// Back-office and tracker tickets take notes only; Ctrl/⌘+Shift+Enter cross-posts the note
// to every linked ticket. Preview shows a reply as it would be sent.

import { api, describe } from "./api.js";
import { $, append, clear, h } from "./dom.js";
import { canWrite, customerName, isBackoffice, state } from "./state.js";
import { drafts, newId, outbox } from "./storage.js";
import { errorToast, toast } from "./toast.js";
import { bytes } from "./time.js";
import { CannedPicker } from "./canned.js";
import { KbPanel } from "./kb.js";
import { MAX_FILES, filesOf, upload } from "./uploads.js";

const MAX_BODY = 10_000;
const TYPING_RESEND_MS = 3000;
const TYPING_IDLE_MS = 4000;

export class Composer {
  constructor(form, { socket, conversation, access }) {
    this.form = form;
    this.socket = socket;
    this.conversation = conversation;
    this.access = access;
    this.ticket = null;
    this.mode = "reply";
    this.attachments = [];
    this.uploading = new Map(); // temp id -> file name
    this.uploadTasks = [];
    this.waitingForUploads = false;
    this.typing = { on: false, ticket: null, sent: 0, timer: null };
    this.input = $("#composer-input", form);
    this.chips = $("#composer-files", form);
    this.lock = $("#composer-lock", form);
    this.fileInput = $("#file-input", form);
    this.canned = new CannedPicker($("#canned", form), {
      onChoose: (text) => this.replaceAll(text),
    });
    this.kb = new KbPanel($("#kb", form), { onInsert: (text) => this.insert(text) });
    this.previewBox = $("#preview", form);
    this.#wire();
  }

  #wire() {
    const { form, input } = this;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    for (const tab of form.querySelectorAll("[data-mode]")) {
      tab.addEventListener("click", () => this.setMode(tab.dataset.mode, true));
    }
    input.addEventListener("input", () => this.#changed());
    input.addEventListener("keydown", (e) => this.#key(e));
    input.addEventListener("blur", () => setTimeout(() => this.canned.close(), 150));
    input.addEventListener("paste", (e) => {
      const files = filesOf(e.clipboardData);
      if (!files.length) return;
      if (!e.clipboardData.types.includes("text/plain")) e.preventDefault();
      this.addFiles(files);
    });
    $("#btn-canned", form).addEventListener("click", () => {
      if (!input.value.startsWith("/")) this.replaceAll(`/${input.value}`);
      input.setSelectionRange(1, 1);
      this.#changed();
    });
    $("#btn-kb", form).addEventListener("click", () => this.kb.toggle());
    $("#btn-preview", form).addEventListener("click", () => this.preview());
    $("#btn-crosspost", form).addEventListener("click", () => this.send({ crossPost: true }));
    $("#btn-attach", form).addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.addFiles(Array.from(this.fileInput.files ?? []));
      this.fileInput.value = "";
    });
    const zone = this.conversation.root;
    zone.addEventListener("dragover", (e) => {
      if (!e.dataTransfer?.types.includes("Files") || this.ticket == null) return;
      e.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", (e) => {
      if (!zone.contains(e.relatedTarget)) zone.classList.remove("dropping");
    });
    zone.addEventListener("drop", (e) => {
      zone.classList.remove("dropping");
      const files = filesOf(e.dataTransfer);
      if (!files.length) return;
      e.preventDefault();
      this.addFiles(files);
    });
  }

  // ---------------------------------------------------------------- tickets and drafts

  setTicket(id) {
    if (this.ticket != null) this.#saveDraft();
    this.stopTyping();
    this.canned.close();
    this.kb.close();
    this.ticket = id;
    const draft = drafts.get(id);
    this.input.value = draft.text ?? "";
    this.attachments = draft.attachments ?? [];
    this.uploading.clear();
    this.previewBox.hidden = true;
    this.setMode(draft.mode ?? "reply", false);
    this.#renderFiles();
    this.#autosize();
    this.updateLock();
  }

  #saveDraft() {
    if (this.ticket == null) return;
    drafts.set(this.ticket, {
      text: this.input.value,
      mode: this.mode,
      attachments: this.attachments,
    });
  }

  setMode(mode, focus) {
    const notesOnly = isBackoffice(state.tickets.get(this.ticket));
    this.mode = mode === "note" || notesOnly ? "note" : "reply";
    this.form.dataset.mode = this.mode;
    for (const tab of this.form.querySelectorAll("[data-mode]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.mode === this.mode));
    }
    if (this.mode === "note") this.stopTyping();
    $("#btn-preview", this.form).hidden = this.mode === "note";
    this.#placeholder();
    this.#saveDraft();
    if (focus) this.focus();
  }

  focus(mode) {
    if (mode) this.setMode(mode, false);
    if (!this.input.disabled) this.input.focus();
  }

  #placeholder() {
    const t = state.tickets.get(this.ticket);
    if (isBackoffice(t)) {
      this.input.placeholder = (t.links ?? []).length
        ? "Note for the team · Ctrl+Shift+Enter also posts it on the linked tickets"
        : "Note for the team (back-office tickets take internal notes only)";
    } else if (this.mode === "note") {
      this.input.placeholder = "Internal note: only your team sees this";
    } else if (t?.status === "new" && !canWrite(t)) {
      this.input.placeholder = "Enter claims the chat and sends your reply";
    } else {
      this.input.placeholder = t ? `Reply to ${customerName(t)}…` : "Reply…";
    }
  }

  /** Read-only when the ticket belongs to someone else (until access is granted) or is closed. */
  updateLock() {
    const t = state.tickets.get(this.ticket);
    this.#applyKind(t);
    let message = null;
    let action = null;
    if (this.ticket == null) message = "";
    else if (!t) message = "Loading…";
    else if (t.status === "closed")
      message = "This chat is closed; a new message from the customer starts a new one.";
    else if (t.status === "spam")
      message = "This ticket is in the spam box; restore it to write here.";
    else if (!canWrite(t) && isBackoffice(t) && t.status === "new") {
      message = "Claim this ticket to work on it and add notes.";
    } else if (!canWrite(t) && t.status !== "new") {
      const who = t.assignee?.name ?? "A teammate";
      const asked = this.access.pending.has(t.id);
      message = asked
        ? `You asked ${who} to let you join. You can read along meanwhile.`
        : `${who} is handling this chat. You can read along, or ask to join to write here.`;
      if (!asked) {
        action = h("button", {
          type: "button",
          class: "btn small",
          text: "Ask to join",
          onclick: () => this.access.request(t.id),
        });
      }
    }
    const locked = message != null;
    this.input.disabled = locked;
    for (const b of this.form.querySelectorAll(".composer-bar button")) b.disabled = locked;
    this.form.classList.toggle("locked", locked);
    clear(this.lock);
    this.lock.hidden = !message;
    if (message) append(this.lock, [h("span", { text: message }), action]);
    this.#placeholder();
  }

  /** Back-office and tracker tickets: notes only, the cross-post button and hint. */
  #applyKind(t) {
    const back = isBackoffice(t);
    const replyTab = this.form.querySelector('[role=tab][data-mode="reply"]');
    replyTab.hidden = back;
    if (back && this.mode !== "note") this.setMode("note", false);
    $("#btn-crosspost", this.form).hidden = !back;
    for (const hint of this.form.querySelectorAll(".composer-hint")) {
      hint.hidden = hint.dataset.for !== (back ? "backoffice" : "chat");
    }
    this.form.classList.toggle("backoffice", back);
  }

  /** The reply as it would be sent (POST /tickets/{id}/preview), banned words flagged. */
  async preview() {
    const box = this.previewBox;
    const body = this.input.value.trim();
    const ticket = this.ticket;
    if (!body || ticket == null) {
      toast("Write the reply first, then preview it.");
      return;
    }
    const close = h("button", {
      type: "button",
      class: "btn small ghost",
      text: "Close",
      onclick: () => (box.hidden = true),
    });
    clear(box).append(
      h("div", { class: "popover-head" }, h("span", { text: "Preview" }), close),
      h("p", { class: "muted small", text: "Loading…" }),
    );
    box.hidden = false;
    let content;
    try {
      const data = await api(`/tickets/${ticket}/preview`, { method: "POST", json: { body } });
      const word = data?.banned_word;
      content = [
        h("div", { class: "preview-body body", text: data?.body ?? body }),
        word
          ? h("p", {
              class: "form-error",
              text: `It contains the banned word “${word}”. Sending asks you to confirm.`,
            })
          : h("p", { class: "muted small", text: "No banned word found." }),
      ];
    } catch (err) {
      const word = err.extra?.word;
      content = word
        ? [
            h("div", { class: "preview-body body", text: body }),
            h("p", {
              class: "form-error",
              text: `It contains the banned word “${word}”. Sending asks you to confirm.`,
            }),
          ]
        : [h("p", { class: err.missing ? "muted small" : "form-error", text: describe(err) })];
    }
    if (this.ticket !== ticket || box.hidden) return;
    append(clear(box), [
      h("div", { class: "popover-head" }, h("span", { text: "Preview" }), close),
      content,
    ]);
  }

  /** Put a failed outbox message back for editing. */
  restore(item) {
    this.setMode(item.type === "note" ? "note" : "reply", false);
    this.input.value = this.input.value ? `${this.input.value}\n${item.body}` : item.body;
    this.attachments = [...this.attachments, ...(item.attachments ?? [])];
    this.#renderFiles();
    this.#changed();
    this.focus();
  }

  // ---------------------------------------------------------------- typing

  #changed() {
    this.previewBox.hidden = true;
    this.#autosize();
    this.#saveDraft();
    const m = /^\/(\S*)$/.exec(this.input.value);
    this.canned.update(m ? m[1] : null);
    if (this.input.value && !m) this.#typingOn();
    else if (!this.input.value) this.stopTyping();
  }

  #autosize() {
    const el = this.input;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight + 2, 240)}px`;
  }

  #key(e) {
    if (e.isComposing || e.keyCode === 229) return;
    if (this.canned.isOpen) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        this.canned.move(e.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
        e.preventDefault();
        this.canned.choose();
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        this.canned.close();
        return;
      }
    }
    if (e.key === "Enter" && e.shiftKey && (e.ctrlKey || e.metaKey) && !e.altKey) {
      e.preventDefault();
      this.send({ crossPost: true });
    } else if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      this.send();
    } else if (e.altKey && (e.key === "n" || e.key === "N")) {
      e.preventDefault();
      this.setMode(this.mode === "note" ? "reply" : "note", true);
    } else if (e.key === "Escape") {
      e.preventDefault();
      this.input.blur();
    }
  }

  #typingOn() {
    const t = state.tickets.get(this.ticket);
    if (this.mode !== "reply" || !canWrite(t)) return;
    const now = Date.now();
    const ty = this.typing;
    if (!ty.on || ty.ticket !== this.ticket || now - ty.sent > TYPING_RESEND_MS) {
      this.socket.send({ type: "typing", ticket: this.ticket, on: true });
      Object.assign(ty, { on: true, ticket: this.ticket, sent: now });
    }
    clearTimeout(ty.timer);
    ty.timer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    const ty = this.typing;
    clearTimeout(ty.timer);
    if (ty.on) this.socket.send({ type: "typing", ticket: ty.ticket, on: false });
    ty.on = false;
  }

  // ---------------------------------------------------------------- text helpers

  insert(text) {
    const el = this.input;
    if (el.disabled) return;
    el.focus();
    const start = el.selectionStart ?? el.value.length;
    const end = el.selectionEnd ?? el.value.length;
    el.setRangeText(text, start, end, "end");
    this.#changed();
  }

  replaceAll(text) {
    this.input.value = text;
    this.input.focus();
    this.input.setSelectionRange(text.length, text.length);
    this.#changed();
  }

  // ---------------------------------------------------------------- files

  async addFiles(files) {
    if (this.ticket == null || this.input.disabled) return;
    const ticket = this.ticket;
    const room = MAX_FILES - this.attachments.length - this.uploading.size;
    if (files.length > room) toast(`At most ${MAX_FILES} files per message.`);
    const tasks = files.slice(0, Math.max(0, room)).map(async (file) => {
      const temp = newId();
      this.uploading.set(temp, file.name || "image");
      this.#renderFiles();
      try {
        const attachment = await upload(file);
        if (this.ticket === ticket) {
          this.attachments.push(attachment);
        } else {
          const d = drafts.get(ticket);
          drafts.set(ticket, { ...d, attachments: [...(d.attachments ?? []), attachment] });
        }
      } catch (err) {
        errorToast(err, `Could not upload ${file.name || "the file"}`);
      } finally {
        this.uploading.delete(temp);
        if (this.ticket === ticket) {
          this.#renderFiles();
          this.#saveDraft();
        }
      }
    });
    this.uploadTasks.push(...tasks);
    await Promise.allSettled(tasks);
    if (!this.uploading.size) this.uploadTasks = [];
  }

  #renderFiles() {
    clear(this.chips);
    for (const a of this.attachments) {
      this.chips.append(
        h(
          "span",
          { class: "file-chip" },
          h("span", { class: "file-name", text: a.filename || "file" }),
          a.size != null ? h("span", { class: "file-size", text: bytes(a.size) }) : null,
          h("button", {
            type: "button",
            class: "chip-x",
            "aria-label": `Remove ${a.filename || "file"}`,
            text: "×",
            onclick: () => {
              this.attachments = this.attachments.filter((x) => x !== a);
              this.#renderFiles();
              this.#saveDraft();
            },
          }),
        ),
      );
    }
    for (const name of this.uploading.values()) {
      this.chips.append(h("span", { class: "file-chip uploading", text: `${name}: uploading…` }));
    }
    this.chips.hidden = !this.chips.childElementCount;
  }

  // ---------------------------------------------------------------- sending

  async send({ crossPost = false } = {}) {
    const ticket = this.ticket;
    const t = state.tickets.get(ticket);
    if (ticket == null || this.input.disabled) return;
    if (crossPost && !isBackoffice(t)) {
      toast("Cross-posting is for notes on back-office and tracker tickets.");
      return;
    }
    if (crossPost && !(t.links ?? []).length) {
      toast("This ticket has no linked tickets to cross-post to.");
      return;
    }
    if (this.canned.isOpen) this.canned.close();
    if (this.uploading.size) {
      // Enter during an upload: send as soon as the files are there.
      if (this.waitingForUploads) return;
      this.waitingForUploads = true;
      toast("Sending when the upload has finished…");
      while (this.uploading.size) await Promise.allSettled(this.uploadTasks);
      this.waitingForUploads = false;
      if (this.ticket !== ticket) return;
    }
    let body = this.input.value.trim();
    if (!body && this.attachments.length) body = this.attachments.map((a) => a.filename).join(", ");
    if (!body) return;
    if (body.length > MAX_BODY) {
      toast(`A message is at most ${MAX_BODY} characters; this one has ${body.length}.`, {
        kind: "error",
      });
      return;
    }
    const type = this.mode === "note" || crossPost ? "note" : "send";
    if (!canWrite(t)) {
      if (t?.status === "new" && type === "send") {
        if (!(await this.conversation.claim())) return;
      } else {
        toast(
          type === "note" ? "Claim the chat to add notes to it." : "You cannot write to this chat.",
        );
        return;
      }
    }
    const item = { client_msg_id: newId(), ticket, type, body, attachments: this.attachments };
    if (crossPost) item.cross_post = true;
    outbox.add(item);
    this.stopTyping();
    if (this.ticket === ticket) {
      this.input.value = "";
      this.attachments = [];
      this.#renderFiles();
      this.#autosize();
      this.#saveDraft();
    } else {
      drafts.set(ticket, { ...drafts.get(ticket), text: "", attachments: [] });
    }
  }
}
