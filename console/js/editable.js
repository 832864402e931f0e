// A value shown as text that turns into a field when clicked: Enter (or leaving the field)
// saves through onSave, which answers whether it worked; Escape cancels.

import { clear, h } from "./dom.js";

/** A value shown as text; click (or Enter on it) to edit in place, Enter saves, Esc cancels. */
export function editable({
  value,
  empty,
  label,
  className,
  type = "text",
  multiline = false,
  onSave,
}) {
  const wrap = h("div", { class: `editable ${className}` });
  const show = () => {
    clear(wrap);
    wrap.append(
      h("button", {
        type: "button",
        class: `editable-value${value ? "" : " placeholder"}`,
        title: `Edit ${label.toLowerCase()}`,
        "aria-label": `${label}: ${value || "empty"}. Edit`,
        text: value || empty,
        onclick: edit,
      }),
    );
  };
  const edit = () => {
    clear(wrap);
    const input = multiline
      ? h("textarea", { class: "input small", rows: 3, value, "aria-label": label })
      : h("input", { class: "input small", type, value, "aria-label": label });
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const next = input.value.trim();
      if (save && next !== value) {
        input.disabled = true;
        if (await onSave(next)) value = next;
      }
      show();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (!multiline || !e.shiftKey)) {
        e.preventDefault();
        finish(true);
      } else if (e.key === "Escape") {
        e.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    wrap.append(input);
    input.focus();
    input.select?.();
  };
  show();
  return wrap;
}
