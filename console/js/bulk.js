// Bulk changes to the tickets ticked in a list (POST /api/v1/tickets/bulk): status,
// assignee, group, priority and labels at once. All or nothing: when one ticket refuses,
// none changes and the refusing ones are marked in the list with the reason.

import { splitList } from "./admin.js";
import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { isAdmin, loadPeople, state, upsert } from "./state.js";
import { toast } from "./toast.js";

const STATUSES = [
  ["open", "Open / in progress"],
  ["pending", "Pending / waiting"],
  ["solved", "Solved / resolved"],
  ["closed", "Closed (admins)"],
  ["spam", "Spam"],
];

export class BulkBar {
  constructor(root, { lists }) {
    this.root = root;
    this.lists = lists;
    this.error = "";
    this.busy = false;
    this.form = null;
  }

  render() {
    const n = this.lists.selected.size;
    this.root.hidden = n === 0;
    if (!n) {
      this.form = null;
      this.error = "";
      clear(this.root);
      return;
    }
    if (this.form) {
      this.root.querySelector(".bulk-count").textContent = `${n} selected`;
      this.root.querySelector(".bulk-apply").textContent = `Apply to ${n}`;
      return;
    }
    this.#build(n);
  }

  #build(n) {
    const select = (name, label, options) =>
      h(
        "select",
        { class: "input small", name, "aria-label": label },
        h("option", { value: "", text: label }),
        options.map(([value, text]) => h("option", { value, text })),
      );
    const groupSelect = select("group", "Group…", []);
    const assigneeSelect = select("assignee", "Assignee…", [
      ["none", "Nobody (back to the queue)"],
      ...agentOptions(),
    ]);
    const statuses = STATUSES.filter(([s]) => s !== "closed" || isAdmin());
    this.error = "";
    const errorLine = h("p", { class: "bulk-error", role: "alert" });
    this.form = h(
      "form",
      {
        class: "bulk",
        "aria-label": "Change the selected tickets",
        onsubmit: (e) => {
          e.preventDefault();
          this.apply();
        },
      },
      h(
        "div",
        { class: "bulk-head" },
        h("strong", { class: "bulk-count", text: `${n} selected` }),
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "Select all",
          onclick: () => this.lists.selectAll(),
        }),
        h("button", {
          type: "button",
          class: "btn small ghost",
          text: "Clear",
          onclick: () => this.lists.clearSelection(),
        }),
      ),
      h(
        "div",
        { class: "bulk-grid" },
        select("status", "Status…", statuses),
        select(
          "priority",
          "Priority…",
          ["low", "normal", "high", "urgent"].map((p) => [p, p]),
        ),
        assigneeSelect,
        groupSelect,
        h("input", {
          class: "input small",
          name: "add_labels",
          placeholder: "Add labels",
          "aria-label": "Add labels (comma separated)",
        }),
        h("input", {
          class: "input small",
          name: "remove_labels",
          placeholder: "Remove labels",
          "aria-label": "Remove labels (comma separated)",
        }),
      ),
      h("button", { type: "submit", class: "btn small primary bulk-apply", text: `Apply to ${n}` }),
      errorLine,
    );
    clear(this.root).append(this.form);
    this.#loadPeople(groupSelect, assigneeSelect);
  }

  async #loadPeople(groupSelect, assigneeSelect) {
    const groups = await loadPeople();
    if (!this.form?.contains(groupSelect)) return;
    for (const g of groups) groupSelect.append(h("option", { value: g.id, text: g.name }));
    const listed = new Set(Array.from(assigneeSelect.options, (o) => o.value));
    for (const [id, name] of agentOptions()) {
      if (!listed.has(id)) assigneeSelect.append(h("option", { value: id, text: name }));
    }
  }

  async apply() {
    if (this.busy || !this.form) return;
    const f = this.form.elements;
    const set = {};
    if (f.status.value) set.status = f.status.value;
    if (f.priority.value) set.priority = f.priority.value;
    if (f.assignee.value)
      set.assignee = f.assignee.value === "none" ? null : Number(f.assignee.value);
    if (f.group.value) set.group = Number(f.group.value);
    const add = splitList(f.add_labels.value);
    const remove = splitList(f.remove_labels.value);
    if (add.length) set.add_labels = add;
    if (remove.length) set.remove_labels = remove;
    const line = this.form.querySelector(".bulk-error");
    if (!Object.keys(set).length) {
      line.textContent = "Choose what to change first.";
      return;
    }
    const ids = Array.from(this.lists.selected);
    this.busy = true;
    this.form.querySelector(".bulk-apply").disabled = true;
    line.textContent = "";
    try {
      const data = await api("/tickets/bulk", { method: "POST", json: { ids, set } });
      for (const t of data?.items ?? []) upsert(t);
      toast(`${ids.length} ticket${ids.length > 1 ? "s" : ""} changed.`);
      this.lists.clearSelection();
    } catch (err) {
      const failed = Array.isArray(err.extra?.failed) ? err.extra.failed : [];
      if (failed.length) {
        this.lists.markFailed(failed);
        const list = failed.map((x) => `#${x.id} (${x.code})`).join(", ");
        line.textContent = `Nothing was changed: ${list} refused. Untick them or change the request.`;
      } else {
        line.textContent = err.missing
          ? `Bulk changes: ${describe(err)}`
          : `Nothing was changed: ${describe(err)}`;
      }
    } finally {
      this.busy = false;
      const button = this.form?.querySelector(".bulk-apply");
      if (button) button.disabled = false;
    }
  }
}

function agentOptions() {
  return Array.from(state.agents.values())
    .filter((a) => a.active !== false)
    .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""))
    .map((a) => [String(a.id), a.id === state.me?.id ? `${a.name} (me)` : a.name]);
}
