// Building DOM without innerHTML: every piece of text lands in a text node.

const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "open", "multiple"]);
const URL_ATTRS = new Set(["href", "src"]);

/**
 * h("button", {class: "btn", onclick: fn, text: "Claim"}, child, "text", [more]).
 * Strings become text nodes; null, undefined and false are skipped.
 */
export function h(tag, props = null, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = String(value);
      else if (key === "dataset") {
        for (const [name, v] of Object.entries(value)) {
          if (v != null && v !== false) el.dataset[name] = String(v);
        }
      } else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (PROPS.has(key)) el[key] = value;
      else if (URL_ATTRS.has(key)) {
        const safe = safeUrl(value);
        if (safe) el.setAttribute(key, safe);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return Array.from(root.querySelectorAll(selector));
}

/** Only same-origin paths, http(s), blob: and data:image URLs are ever put in href/src. */
export function safeUrl(raw) {
  if (typeof raw !== "string" || !raw) return null;
  const value = raw.trim();
  if (value.startsWith("#")) return value;
  if (value.startsWith("/") && !value.startsWith("//")) return value;
  if (/^data:image\/(png|gif|jpeg|webp);/i.test(value)) return value;
  try {
    const url = new URL(value, location.href);
    if (["http:", "https:", "blob:"].includes(url.protocol)) return url.href;
  } catch {
    return null;
  }
  return null;
}

const LINK = /\bhttps?:\/\/[^\s<>"']+/gi;

/** Plain text with its http(s) links made clickable; still text nodes only. */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let url = match[0];
    const trailing = url.match(/[.,;:!?)\]]+$/);
    if (trailing) url = url.slice(0, -trailing[0].length);
    frag.append(text.slice(last, match.index));
    frag.append(h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url }));
    last = match.index + url.length;
  }
  frag.append(text.slice(last));
  return frag;
}

/** True when a key press happens inside something that takes text. */
export function isTyping(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(
    target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]"),
  );
}

export function icon(name) {
  const span = h("span", { class: `icon icon-${name}`, "aria-hidden": "true" });
  return span;
}
