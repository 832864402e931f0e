// Settings → Service levels: per priority, the minutes to a first response and to a
// resolution (GET / PUT /api/v1/sla). Tickets get their due times from these; lists flag
// the ones due soon and the breached ones.

import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { toast } from "./toast.js";

const PRIORITIES = ["urgent", "high", "normal", "low"];
const PARTS = [
  ["first_response_minutes", "First response"],
  ["resolution_minutes", "Resolution"],
];

export class SlaPage {
  constructor(root, page) {
    this.root = root;
    this.page = page;
  }

  async load() {
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", { class: "muted", text: "Loading…" }),
    );
    let targets;
    try {
      targets = (await api("/sla")) ?? {};
    } catch (err) {
      clear(this.root).append(
        h("h2", { text: this.page.title }),
        h("p", {
          class: err.missing ? "notice" : "notice error",
          text: err.missing
            ? `Service levels: ${describe(err)} This page works once it does.`
            : describe(err),
        }),
      );
      return;
    }
    this.render(targets);
  }

  render(targets) {
    const table = h(
      "table",
      { class: "table sla-table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { text: "Priority" }),
          PARTS.map(([, label]) => h("th", { text: `${label} within (minutes)` })),
        ),
      ),
    );
    const body = h("tbody");
    for (const p of PRIORITIES) {
      body.append(
        h(
          "tr",
          null,
          h("td", null, h("span", { class: `prio p-${p}`, text: p })),
          PARTS.map(([key, label]) =>
            h(
              "td",
              null,
              h("input", {
                class: "input small",
                type: "number",
                min: 1,
                step: 1,
                name: `${p}.${key}`,
                value: targets?.[p]?.[key] ?? "",
                placeholder: "no target",
                "aria-label": `${label} for ${p} priority, minutes`,
              }),
              h("span", {
                class: "muted small hint-inline",
                dataset: { for: `${p}.${key}` },
                text: human(targets?.[p]?.[key]),
              }),
            ),
          ),
        ),
      );
    }
    table.append(body);
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h(
      "form",
      { class: "sla-form", novalidate: true },
      table,
      error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: "Save" }),
      ),
    );
    form.addEventListener("input", (e) => {
      const hint = form.querySelector(`[data-for="${e.target.name}"]`);
      if (hint) hint.textContent = human(Number(e.target.value) || null);
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      const data = {};
      for (const p of PRIORITIES) {
        data[p] = {};
        for (const [key] of PARTS) {
          const raw = form.elements.namedItem(`${p}.${key}`).value.trim();
          const n = raw === "" ? null : Number(raw);
          if (n != null && (!Number.isInteger(n) || n <= 0)) {
            error.textContent = `${p}: minutes are a whole number above 0, or empty for no target.`;
            return;
          }
          data[p][key] = n;
        }
      }
      try {
        const saved = await api("/sla", { method: "PUT", json: data });
        toast("Service levels saved. New tickets get due times from them.");
        this.render(saved ?? data);
      } catch (err) {
        error.textContent = describe(err);
      }
    });
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", {
        class: "muted intro",
        text: "Due times count from when a ticket is created. Lists show “SLA soon” 15 minutes before one is due and “SLA breached” after; the assignee is told when it happens.",
      }),
      form,
    );
  }
}

function human(minutes) {
  if (!minutes) return "";
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 60 * 24) return `${+(minutes / 60).toFixed(1)} h`;
  return `${+(minutes / 60 / 24).toFixed(1)} days`;
}
