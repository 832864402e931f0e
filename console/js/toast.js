// Short messages in the corner; errors stay a little longer. role=status for screen readers.

import { h } from "./dom.js";

export function toast(text, { kind = "info", ms, action = null } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { text }),
    action
      ? h("button", {
          type: "button",
          class: "toast-action",
          text: action.label,
          onclick: () => {
            el.remove();
            action.run();
          },
        })
      : null,
    h("button", {
      class: "toast-close",
      type: "button",
      "aria-label": "Dismiss",
      text: "×",
      onclick: () => el.remove(),
    }),
  );
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => el.remove(), ms ?? (kind === "error" ? 8000 : 4000));
}

export function errorToast(err, prefix = "") {
  const detail = err?.detail || err?.message || String(err);
  toast(prefix ? `${prefix}: ${detail}` : detail, { kind: "error" });
}
