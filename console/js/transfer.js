// Transfer a chat to a teammate or a group (contract `transfer`), from a small dialog.

import { api } from "./api.js";
import { $, clear, h } from "./dom.js";
import { learnAgent, state } from "./state.js";
import { errorToast, toast } from "./toast.js";

export class Transfer {
  constructor(dialog, { socket }) {
    this.dialog = dialog;
    this.socket = socket;
    this.ticket = null;
    this.form = $("form", dialog);
    this.agentSelect = $("select[name=agent]", dialog);
    this.groupSelect = $("select[name=group]", dialog);
    this.note = $(".dialog-note", dialog);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    $("[data-close]", dialog).addEventListener("click", () => dialog.close());
  }

  async open(ticket) {
    this.ticket = ticket.id;
    $("[data-title]", this.dialog).textContent = `Transfer #${ticket.id}`;
    this.note.textContent = "";
    this.#fillAgents(ticket);
    clear(this.groupSelect).append(h("option", { value: "", text: "No group" }));
    this.dialog.showModal();
    await Promise.all([this.#loadAgents(ticket), this.#loadGroups(ticket)]);
  }

  #fillAgents(ticket) {
    const select = clear(this.agentSelect);
    select.append(h("option", { value: "", text: "Anyone in the group (queue)" }));
    const agents = Array.from(state.agents.values())
      .filter((a) => a.active !== false)
      .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
    for (const a of agents) {
      if (a.id === ticket.assignee?.id) continue;
      const status = state.presence.get(a.id) ?? "offline";
      const me = a.id === state.me?.id ? " (you)" : "";
      select.append(
        h("option", { value: a.id, text: `${a.name ?? `Agent #${a.id}`}${me}: ${status}` }),
      );
    }
  }

  async #loadAgents(ticket) {
    try {
      const data = await api("/agents", { query: { limit: 100 } });
      for (const a of data?.items ?? []) learnAgent(a);
      this.#fillAgents(ticket);
    } catch (err) {
      if (err.missing || err.code === "forbidden") {
        this.note.textContent = "Only teammates seen recently are listed.";
      }
    }
  }

  async #loadGroups(ticket) {
    try {
      const data = await api("/groups", { query: { limit: 100 } });
      for (const g of data?.items ?? []) {
        this.groupSelect.append(
          h("option", { value: g.id, text: g.name, selected: g.id === ticket.group?.id }),
        );
      }
    } catch {
      this.groupSelect.disabled = this.groupSelect.options.length <= 1;
    }
  }

  async submit() {
    const agent = this.agentSelect.value;
    const group = this.groupSelect.value;
    if (!agent && !group) {
      this.note.textContent = "Pick a teammate or a group.";
      return;
    }
    const frame = { type: "transfer", ticket: this.ticket };
    if (agent) frame.agent = Number(agent);
    if (group) frame.group = Number(group);
    try {
      await this.socket.request(frame);
      this.dialog.close();
      toast(`#${this.ticket} transferred.`);
    } catch (err) {
      errorToast(err, "Could not transfer");
    }
  }
}
