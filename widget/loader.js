/*! chatdesk widget loader: draws the launcher in the host page; the chat itself
 * lives in an iframe served from the chatdesk origin (widget/frame.html).
 * Embed: <script src="https://desk.example/widget.js" data-site="KEY" async></script>
 * API:   chatdesk('open' | 'close'), chatdesk('identify', {external_id, email, name, hmac}),
 *        chatdesk('on', 'message' | 'unread' | 'open' | 'close', fn)
 * Calls made before this script ran are kept by the stub
 *   window.chatdesk = window.chatdesk || function () { (chatdesk.q = chatdesk.q || []).push(arguments) }
 * Strings: the launcher's labels come from the frame (widget/i18n.js), the one place for text.
 */
(function () {
  "use strict";
  var w = window;
  var d = document;
  if (w.chatdesk && w.chatdesk.loaded) return;

  var script = d.currentScript || d.querySelector('script[data-site][src*="widget.js"]');
  if (!script || !script.getAttribute("data-site")) return;
  var site = script.getAttribute("data-site");
  var origin = new URL(script.src, location.href).origin;
  var settings = w.chatdeskSettings || {};
  var queue = (w.chatdesk && w.chatdesk.q) || [];

  var state = { ready: false, open: false, unread: 0, identity: settings.identity || null };
  var labels = { open: "", close: "", unread: "", frame: "" };
  var handlers = { message: [], unread: [], open: [], close: [] };

  var CSS =
    ":host{all:initial!important;display:block!important;position:fixed!important;" +
    "inset:auto 0 0 auto!important;width:0!important;height:0!important;margin:0!important;" +
    "padding:0!important;border:0!important;z-index:2147483647!important;visibility:visible!important;" +
    "opacity:1!important;transform:none!important;pointer-events:none!important}" +
    "*{box-sizing:border-box}" +
    ".launcher{all:initial;box-sizing:border-box;position:fixed;right:20px;bottom:20px;width:56px;height:56px;" +
    "display:flex;align-items:center;justify-content:center;border-radius:50%;background:#2747a8;color:#fff;" +
    "cursor:pointer;pointer-events:auto;box-shadow:0 4px 14px rgba(16,24,40,.22),0 1px 3px rgba(16,24,40,.14);" +
    "transition:transform .15s ease,background-color .15s ease;-webkit-tap-highlight-color:transparent}" +
    ".launcher[hidden]{display:none}" +
    ".launcher:hover{background:#1f3a8c;transform:translateY(-1px)}" +
    ".launcher:focus-visible{outline:3px solid #9db4ff;outline-offset:3px}" +
    ".launcher svg{width:26px;height:26px;display:block;fill:none;stroke:currentColor;stroke-width:2;" +
    "stroke-linecap:round;stroke-linejoin:round}" +
    ".launcher .x{display:none}.launcher[aria-expanded=true] .x{display:block}" +
    ".launcher[aria-expanded=true] .bubble{display:none}" +
    ".badge{all:initial;position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;" +
    "border-radius:10px;background:#d92d20;color:#fff;border:2px solid #fff;box-sizing:border-box;" +
    "font:600 11px/16px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;text-align:center}" +
    ".badge[hidden]{display:none}" +
    ".panel{display:block;margin:0;padding:0;position:fixed;right:20px;bottom:88px;width:380px;height:min(640px,calc(100vh - 108px));" +
    "border-radius:16px;overflow:hidden;background:#fff;pointer-events:auto;" +
    "box-shadow:0 12px 40px rgba(16,24,40,.18),0 2px 8px rgba(16,24,40,.08);" +
    "opacity:1;transform:none;transition:opacity .18s ease,transform .18s ease,visibility 0s}" +
    ".panel.closed{visibility:hidden;opacity:0;transform:translateY(12px);pointer-events:none;" +
    "transition:opacity .18s ease,transform .18s ease,visibility 0s .18s}" +
    ".panel iframe{display:block;width:100%;height:100%;margin:0;padding:0;border:0;background:#fff}" +
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0}" +
    ".launcher[aria-expanded=true]{display:none}}" +
    "@media (max-height:520px){.panel{bottom:0;height:100%}}" +
    "@media (prefers-reduced-motion:reduce){.launcher,.panel,.panel.closed{transition:none}" +
    ".launcher:hover{transform:none}}";
  var ICONS =
    '<svg class="bubble" viewBox="0 0 24 24" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z"/></svg>' +
    '<svg class="x" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>';

  var host = d.createElement("chatdesk-widget");
  var root = host.attachShadow({ mode: "open" });
  try {
    var sheet = new CSSStyleSheet(); // not subject to the host page's style-src
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    var style = d.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
  }

  var panel = d.createElement("div");
  panel.className = "panel closed";
  panel.id = "chatdesk-panel";
  var frame = d.createElement("iframe");
  frame.title = "Chat";
  frame.setAttribute("allow", "clipboard-write");
  frame.src = origin + "/widget/frame?site=" + encodeURIComponent(site);
  panel.appendChild(frame);

  var button = d.createElement("button");
  button.type = "button";
  button.className = "launcher";
  button.hidden = true; // shown once the frame is ready (a frame that cannot load shows nothing)
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "chatdesk-panel");
  button.innerHTML = ICONS; // constant markup, no data
  var badge = d.createElement("span");
  badge.className = "badge";
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  button.appendChild(badge);

  root.appendChild(panel);
  root.appendChild(button);

  function post(message) {
    message.chatdesk = 1;
    if (frame.contentWindow) frame.contentWindow.postMessage(message, origin);
  }

  function emit(name, value) {
    var list = handlers[name] || [];
    for (var i = 0; i < list.length; i++) {
      try {
        list[i](value);
      } catch (e) {
        setTimeout(function () {
          throw e;
        });
      }
    }
  }

  function label() {
    var text = state.open ? labels.close : labels.open;
    if (state.unread && !state.open) text += " (" + labels.unread.replace("{n}", state.unread) + ")";
    button.setAttribute("aria-label", text || "Chat");
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    badge.hidden = !state.unread || state.open;
  }

  function open() {
    if (!state.ready) {
      state.wantOpen = true;
      return;
    }
    if (state.open) return;
    state.open = true;
    panel.classList.remove("closed");
    button.setAttribute("aria-expanded", "true");
    label();
    frame.focus();
    post({ type: "open" });
    emit("open");
  }

  function close(focusLauncher) {
    state.wantOpen = false;
    if (!state.open) return;
    state.open = false;
    panel.classList.add("closed");
    button.setAttribute("aria-expanded", "false");
    label();
    post({ type: "close" });
    if (focusLauncher) button.focus();
    emit("close");
  }

  button.addEventListener("click", function () {
    if (state.open) close(true);
    else open();
  });
  root.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && state.open) close(true);
  });

  frame.addEventListener("load", function () {
    var url = location.href.split("#")[0];
    post({ type: "init", page_url: url, identity: state.identity, open: state.open });
  });

  w.addEventListener("message", function (e) {
    if (e.origin !== origin || e.source !== frame.contentWindow) return;
    var m = e.data;
    if (!m || m.chatdesk !== 1 || typeof m.type !== "string") return;
    if (m.type === "ready") {
      if (m.labels) labels = m.labels;
      if (labels.frame) frame.title = labels.frame;
      state.ready = true;
      button.hidden = false;
      label();
      if (state.wantOpen) open();
    } else if (m.type === "close") {
      close(true);
    } else if (m.type === "unread") {
      var n = Math.max(0, m.count | 0);
      if (n !== state.unread) {
        state.unread = n;
        label();
        emit("unread", n);
      }
    } else if (m.type === "message" && m.message) {
      emit("message", m.message);
    }
  });

  function command(args) {
    var name = args[0];
    if (name === "open") open();
    else if (name === "close") close(false);
    else if (name === "toggle") state.open ? close(false) : open();
    else if (name === "identify") {
      state.identity = args[1] || null;
      post({ type: "identify", identity: state.identity });
    } else if (name === "on" && handlers[args[1]] && typeof args[2] === "function") {
      handlers[args[1]].push(args[2]);
    }
  }

  var api = function () {
    command(arguments);
  };
  api.loaded = true;
  api.q = [];
  w.chatdesk = api;

  // a child of <html>, after <body>: a transform, filter, opacity or overflow on the
  // host page's body cannot move, clip or fade the widget, and replacing body keeps it
  function mount() {
    d.documentElement.appendChild(host);
  }
  if (d.body) mount();
  else d.addEventListener("DOMContentLoaded", mount);
  for (var i = 0; i < queue.length; i++) command(queue[i]);
})();
