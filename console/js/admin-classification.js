// Settings → Categories and services: the lists agents classify tickets with
// (GET / PUT /api/v1/classification). Empty lists let agents type any value.

import { api, describe } from "./api.js";
import { clear, h } from "./dom.js";
import { toast } from "./toast.js";

export class ClassificationPage {
  constructor(root, page) {
    this.root = root;
    this.page = page;
  }

  async load() {
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", { class: "muted", text: "Loading…" }),
    );
    let data;
    try {
      data = (await api("/classification")) ?? {};
    } catch (err) {
      clear(this.root).append(
        h("h2", { text: this.page.title }),
        h("p", {
          class: err.missing ? "notice" : "notice error",
          text: err.missing
            ? `Categories and services: ${describe(err)} This page works once it does.`
            : describe(err),
        }),
      );
      return;
    }
    this.render(data);
  }

  render(data) {
    const area = (name, label, values) =>
      h(
        "div",
        { class: "field" },
        h("label", { class: "field-label", for: `cl-${name}`, text: label }),
        h("textarea", {
          class: "input",
          id: `cl-${name}`,
          name,
          rows: 6,
          value: (values ?? []).join("\n"),
        }),
        h("span", { class: "field-hint", text: "One per line" }),
      );
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h(
      "form",
      { class: "admin-form" },
      area("categories", "Categories (question, problem, suggestion…)", data.categories),
      area("services", "Services (billing, delivery…)", data.services),
      error,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit", class: "btn primary", text: "Save" }),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const lines = (name) =>
        form.elements[name].value
          .split("\n")
          .map((x) => x.trim())
          .filter(Boolean);
      try {
        const saved = await api("/classification", {
          method: "PUT",
          json: { categories: lines("categories"), services: lines("services") },
        });
        toast("Saved.");
        this.render(saved ?? {});
      } catch (err) {
        error.textContent = describe(err);
      }
    });
    clear(this.root).append(
      h("h2", { text: this.page.title }),
      h("p", {
        class: "muted intro",
        text: "Agents pick a ticket's category and service from these lists in the sidebar.",
      }),
      form,
    );
  }
}
