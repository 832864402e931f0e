/* The chat panel: speaks the visitor channel (/ws/visitor, PROTOCOL.md section 4)
 * from the chatdesk origin. The visitor token and the outbox stay in this origin's
 * localStorage; the host page only ever learns what the loader needs (unread count,
 * new agent messages). Messages are plain text and are only ever set as textContent.
 */
(function () {
  "use strict";
  var w = window;
  var d = document;
  var $ = function (id) {
    return d.getElementById(id);
  };

  var ACK_MS = 12000; // an unanswered request means a dead socket: reconnect and resend
  var PING_MS = 25000;
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 15000;
  var BANNER_AFTER_MS = 1200;
  var TYPING_SHOWN_MS = 8000;
  var TYPING_EVERY_MS = 2000;
  var TYPING_IDLE_MS = 3000;
  var MAX_BODY = 10000;

  var site = new URLSearchParams(location.search).get("site") || "";
  var framed = w.parent !== w;

  // ------------------------------------------------------------------ strings

  var dict = w.CHATDESK_I18N || { en: {} };
  var lang = (function () {
    var wanted = (navigator.languages && navigator.languages.length && navigator.languages) || [
      navigator.language || "en",
    ];
    for (var i = 0; i < wanted.length; i++) {
      var base = String(wanted[i]).toLowerCase().split("-")[0];
      if (dict[base]) return base;
    }
    return "en";
  })();

  function t(key, vars) {
    var text = (dict[lang] && dict[lang][key]) || dict.en[key] || key;
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (all, name) {
        return name in vars ? String(vars[name]) : all;
      });
    }
    return text;
  }

  var timeFmt = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" });
  var dayFmt = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" });
  var numFmt = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });

  function when(iso) {
    var at = iso ? new Date(iso) : new Date();
    if (isNaN(at.getTime())) return "";
    var now = new Date();
    var time = timeFmt.format(at);
    return at.toDateString() === now.toDateString() ? time : dayFmt.format(at) + ", " + time;
  }

  function bytes(n) {
    if (!(n >= 0)) return "";
    if (n < 1024) return numFmt.format(n) + " B";
    if (n < 1048576) return numFmt.format(n / 1024) + " KB";
    return numFmt.format(n / 1048576) + " MB";
  }

  // ------------------------------------------------------------------ storage (per site)

  var memory = {};
  var store = {
    key: function (name) {
      return "chatdesk:" + site + ":" + name;
    },
    get: function (name) {
      try {
        var raw = w.localStorage.getItem(store.key(name));
        return raw === null ? null : JSON.parse(raw);
      } catch (e) {
        return name in memory ? memory[name] : null;
      }
    },
    set: function (name, value) {
      memory[name] = value;
      try {
        if (value === null) w.localStorage.removeItem(store.key(name));
        else w.localStorage.setItem(store.key(name), JSON.stringify(value));
      } catch (e) {
        /* private mode or storage full: the in-memory copy keeps this page working */
      }
    },
  };

  function position(value) {
    return value && typeof value.t === "number" && typeof value.s === "number"
      ? value
      : { t: 0, s: 0 };
  }

  // ------------------------------------------------------------------ state

  var S = {
    token: store.get("token"),
    outbox: Array.isArray(store.get("outbox")) ? store.get("outbox") : [],
    read: position(store.get("read")), // newest agent message the visitor has seen
    told: position(store.get("told")), // newest agent message announced to the host page
    lastAgent: { t: 0, s: 0 },
    ws: null,
    ready: false,
    started: false,
    attempt: 0,
    reqs: {},
    rid: 0,
    inflight: null,
    ticket: null,
    maxSeq: 0,
    status: null,
    assignee: null,
    agentName: null,
    agentsOnline: true,
    openNow: true,
    customer: {},
    emailSaved: false,
    csat: store.get("csat"), // the solved ticket a rating prompt is waiting for (survives reloads)
    open: !framed,
    hostOrigin: null,
    pageUrl: null,
    identity: null,
    unread: -1,
    sentRead: 0,
    typingOn: false,
    typedAt: 0,
    timers: {},
  };
  var rows = {}; // "ticket:seq" -> entry (every public event seen, for de-duplication)
  var byCmid = {}; // client_msg_id -> entry of the visitor's own messages
  var mine = []; // the visitor's own message entries
  var uploads = []; // attachments waiting to be sent

  function later(name, fn, ms) {
    clearTimeout(S.timers[name]);
    S.timers[name] = ms === null ? null : setTimeout(fn, ms);
  }

  function newer(a, b) {
    return a.t > b.t || (a.t === b.t && a.s > b.s);
  }

  function randomId() {
    var buf = new Uint8Array(16);
    w.crypto.getRandomValues(buf);
    return Array.prototype.map
      .call(buf, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  // ------------------------------------------------------------------ the host page

  function toHost(message) {
    if (!framed || !S.hostOrigin) return;
    message.chatdesk = 1;
    w.parent.postMessage(message, S.hostOrigin);
  }

  function cleanIdentity(value) {
    if (!value || typeof value !== "object") return null;
    var out = {};
    var any = false;
    ["external_id", "email", "name", "hmac"].forEach(function (k) {
      if (typeof value[k] === "string" && value[k]) {
        out[k] = value[k].slice(0, 500);
        any = true;
      }
    });
    return any ? out : null;
  }

  w.addEventListener("message", function (e) {
    if (!framed || e.source !== w.parent) return;
    var m = e.data;
    if (!m || m.chatdesk !== 1 || typeof m.type !== "string") return;
    if (S.hostOrigin === null) {
      if (m.type !== "init") return;
      var ancestors = location.ancestorOrigins;
      if (ancestors && ancestors.length && ancestors[0] !== e.origin) return;
      S.hostOrigin = e.origin;
      S.pageUrl = typeof m.page_url === "string" ? m.page_url.slice(0, 2000) : null;
      S.identity = cleanIdentity(m.identity);
      toHost({
        type: "ready",
        labels: {
          open: t("launcher_open"),
          close: t("launcher_close"),
          unread: t("launcher_unread"),
          frame: t("dialog"),
        },
      });
      if (m.open) setOpen(true);
      start();
      return;
    }
    if (e.origin !== S.hostOrigin) return;
    if (m.type === "open") setOpen(true);
    else if (m.type === "close") setOpen(false);
    else if (m.type === "identify") {
      S.identity = cleanIdentity(m.identity);
      if (S.ws) reconnectNow();
    }
  });

  function setOpen(open) {
    S.open = open;
    if (open) {
      stick(true);
      $("input").focus();
    } else {
      stopTyping();
    }
    updateUnread();
  }

  function requestClose() {
    if (framed) toHost({ type: "close" });
  }

  // ------------------------------------------------------------------ the live channel

  function connect() {
    later("retry", null, null);
    if (S.ws) return;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/visitor";
    var ws;
    try {
      ws = new WebSocket(url, "chatdesk.json");
    } catch (e) {
      down(null, 0);
      return;
    }
    S.ws = ws;
    S.ready = false;
    S.helloFailed = false;
    ws.onopen = function () {
      if (S.ws !== ws) return;
      S.helloTicket = S.ticket;
      S.helloAfter = S.maxSeq;
      var hello = {
        type: "hello",
        site: site,
        visitor_token: S.token || null,
        after_seq: S.maxSeq,
        page_url: S.pageUrl,
      };
      if (S.identity) hello.identity = S.identity;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (e) {
      if (S.ws !== ws || typeof e.data !== "string") return;
      var frame;
      try {
        frame = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    ws.onclose = function (e) {
      if (S.ws === ws) down(ws, e.code);
    };
  }

  function drop(ws) {
    // forget a socket we no longer trust; its late callbacks are ignored
    if (S.ws !== ws) return;
    S.ws = null;
    try {
      ws.close();
    } catch (e) {
      /* already closing */
    }
    down(ws, 0);
  }

  function reconnectNow() {
    S.attempt = 0;
    if (S.ws) drop(S.ws);
    later("retry", null, null);
    connect();
  }

  function down(ws, code) {
    var hadToken = !!S.token;
    S.ws = null;
    S.ready = false;
    S.inflight = null;
    later("ping", null, null);
    var pending = S.reqs;
    S.reqs = {};
    Object.keys(pending).forEach(function (rid) {
      pending[rid](null);
    });
    showTyping(false);
    var delay;
    if (code === 4401 && hadToken && S.helloFailed) {
      // the server refused our token (stale, erased customer): start over as a new visitor
      S.token = null;
      store.set("token", null);
      S.ticket = null;
      S.maxSeq = 0;
      delay = 0;
    } else if (code === 1012) {
      delay = Math.random() * 250; // a restart: another process is (or will be) there
      S.attempt = 0;
    } else {
      var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, S.attempt));
      delay = base / 2 + (Math.random() * base) / 2;
      S.attempt++;
    }
    later("retry", connect, delay);
    var say = function () {
      banner(S.everWelcomed ? t("reconnecting") : t("connecting"), S.attempt > 6);
    };
    if (!$("banner").hidden) say();
    else if (!S.timers.banner) later("banner", say, BANNER_AFTER_MS);
  }

  function banner(text, bad) {
    var el = $("banner");
    el.textContent = text || "";
    el.hidden = !text;
    el.classList.toggle("bad", !!bad);
  }

  function sendRaw(frame) {
    if (!S.ws || S.ws.readyState !== 1) return false;
    S.ws.send(JSON.stringify(frame));
    return true;
  }

  function request(frame, done) {
    var ws = S.ws;
    var rid = "w" + ++S.rid;
    frame.rid = rid;
    if (!S.ready || !sendRaw(frame)) {
      done(null);
      return;
    }
    var timer = setTimeout(function () {
      if (S.reqs[rid]) {
        delete S.reqs[rid];
        done(null);
        drop(ws);
      }
    }, ACK_MS);
    S.reqs[rid] = function (answer) {
      clearTimeout(timer);
      done(answer);
    };
  }

  function ping() {
    request({ type: "ping" }, function () {});
    later("ping", ping, PING_MS);
  }

  function handle(f) {
    switch (f.type) {
      case "welcome":
        return welcome(f);
      case "ok":
      case "error":
        var answer = typeof f.rid === "string" && S.reqs[f.rid];
        if (answer) {
          delete S.reqs[f.rid];
          answer(f);
        } else if (f.type === "error" && !S.ready) {
          S.helloFailed = true; // the close that follows (4401) decides what to do
        }
        return;
      case "event":
        addEvent(f.event);
        return settled();
      case "ticket":
        onTicket(f.ticket);
        return renderHeader();
      case "typing":
        return showTyping(!!f.on, f.name);
      case "agents_online":
        S.agentsOnline = f.value !== false;
        renderHeader();
        return renderOffline();
      case "csat_request":
        return askCsat(f.ticket);
    }
  }

  function welcome(f) {
    S.ready = true;
    S.everWelcomed = true;
    S.attempt = 0;
    later("banner", null, null);
    banner("");
    if (typeof f.visitor_token === "string" && f.visitor_token !== S.token) {
      S.token = f.visitor_token;
      store.set("token", S.token);
    }
    S.customer = f.customer || {};
    S.agentsOnline = f.agents_online !== false;
    S.openNow = f.open_now !== false;
    var ticketBefore = S.helloTicket;
    if (f.ticket) onTicket(f.ticket);
    else setCsat(null); // no conversation (any more): nothing to rate
    (f.events || []).forEach(addEvent);
    if (f.ticket && S.helloAfter > 0 && f.ticket.id !== ticketBefore) {
      // a new ticket began while we were away: our after_seq meant the old one
      request({ type: "sync", after_seq: 0 }, function (res) {
        if (res && res.type === "ok") (res.events || []).forEach(addEvent);
        settled();
      });
    }
    settled();
    renderHeader();
    renderOffline();
    S.inflight = null;
    flush();
    later("ping", ping, PING_MS);
  }

  // ------------------------------------------------------------------ outbox

  function saveOutbox(change) {
    // read-modify-write, so another tab's unsent messages are kept too
    var stored = store.get("outbox");
    stored = change(Array.isArray(stored) ? stored : []);
    store.set("outbox", stored.length ? stored : null);
  }

  function unqueue(cmid) {
    S.outbox = S.outbox.filter(function (m) {
      return m.client_msg_id !== cmid;
    });
    saveOutbox(function (list) {
      return list.filter(function (m) {
        return m.client_msg_id !== cmid;
      });
    });
  }

  function flush() {
    if (!S.ready || S.inflight || !S.outbox.length) return;
    var m = S.outbox[0];
    var cmid = m.client_msg_id;
    S.inflight = cmid;
    var frame = { type: "message", client_msg_id: cmid, body: m.body };
    if (m.attachments && m.attachments.length) frame.attachments = m.attachments;
    request(frame, function (res) {
      if (S.inflight === cmid) S.inflight = null;
      if (!res) return; // the socket went away: resent after the next welcome
      var entry = byCmid[cmid];
      if (res.type === "ok") {
        unqueue(cmid);
        if (typeof res.ticket === "number" && (S.ticket === null || res.ticket > S.ticket)) {
          setTicket(res.ticket);
        }
        if (entry && typeof res.seq === "number") confirm(entry, res.ticket, res.seq, null);
      } else if (res.code === "rate_limited" || res.code === "unavailable") {
        S.inflight = "wait";
        later("resend", function () {
          S.inflight = null;
          flush();
        }, Math.max(1, +res.retry_after || 2) * 1000);
        return;
      } else {
        unqueue(cmid);
        if (entry) {
          entry.state = "failed";
          entry.error = res.detail || res.code || "";
          refreshStates();
        }
      }
      flush();
    });
  }

  function submit() {
    var input = $("input");
    var body = input.value.replace(/^\s+|\s+$/g, "");
    if (uploads.some(function (u) { return u.state === "uploading"; })) {
      hint(t("wait_upload"));
      return;
    }
    var ready = uploads.filter(function (u) {
      return u.state === "ready";
    });
    if (!body && !ready.length) return;
    var files = ready.map(function (u) {
      return u.attachment;
    });
    if (!body) {
      body = files
        .map(function (a) {
          return a.filename;
        })
        .join(", ");
    }
    var m = {
      client_msg_id: randomId(),
      body: body.slice(0, MAX_BODY),
      attachments: files.map(function (a) {
        return a.id;
      }),
      files: files,
      at: new Date().toISOString(),
    };
    S.outbox.push(m);
    saveOutbox(function (list) {
      list.push(m);
      return list;
    });
    pendingEntry(m);
    input.value = "";
    autosize();
    uploads = uploads.filter(function (u) {
      return u.state !== "ready";
    });
    renderUploads();
    hint("");
    stopTyping();
    stick(true);
    flush();
  }

  // ------------------------------------------------------------------ timeline

  function el(tag, cls, text) {
    var node = d.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function safeUrl(value) {
    try {
      var url = new URL(String(value), location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function fillText(node, text) {
    // plain text; http(s) addresses become links, built as nodes (never markup)
    var re = /\bhttps?:\/\/[^\s<>"']+/gi;
    var last = 0;
    var m;
    while ((m = re.exec(text))) {
      var url = m[0].replace(/[.,;:!?)\]}]+$/, "");
      var href = url.length > 10 && safeUrl(url);
      if (!href) continue;
      if (m.index > last) node.appendChild(d.createTextNode(text.slice(last, m.index)));
      var a = el("a", null, url);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      node.appendChild(a);
      last = m.index + url.length;
      re.lastIndex = last;
    }
    if (last < text.length) node.appendChild(d.createTextNode(text.slice(last)));
  }

  function attachmentList(files) {
    var list = el("ul", "files");
    files.forEach(function (a) {
      if (!a) return;
      var name = String(a.filename || "file");
      var li = el("li");
      var href = a.url && safeUrl(a.url);
      var link = el(href ? "a" : "span", null, name);
      if (href) {
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      }
      li.appendChild(link);
      if (a.size >= 0) li.appendChild(d.createTextNode(" (" + bytes(a.size) + ")"));
      list.appendChild(li);
    });
    return list;
  }

  function messageEntry(data) {
    // data: {mine, name, body, files, at}
    var entry = { kind: "message", mine: data.mine, name: data.name, at: data.at, t: 0, s: 0 };
    var row = el("div", "row " + (data.mine ? "me" : "agent"));
    var who = data.mine ? t("you") : data.name || t("agent");
    row.appendChild(el("div", data.mine ? "name sr-only" : "name", data.mine ? t("said", { name: who }) : who));
    var bubble = el("div", "bubble");
    var files = Array.isArray(data.files) ? data.files : [];
    var names = files.map(function (a) {
      return a && a.filename;
    });
    if (!(files.length && data.body === names.join(", "))) fillText(bubble, String(data.body || ""));
    if (files.length) bubble.appendChild(attachmentList(files));
    row.appendChild(bubble);
    var meta = el("div", "meta");
    entry.time = el("time");
    entry.state = data.mine ? "sending" : null;
    entry.stateNode = el("span");
    meta.appendChild(entry.time);
    meta.appendChild(entry.stateNode);
    row.appendChild(meta);
    entry.el = row;
    row._entry = entry;
    setTime(entry);
    return entry;
  }

  function setTime(entry) {
    entry.time.textContent = when(entry.at);
    if (entry.at) entry.time.dateTime = entry.at;
  }

  function pendingEntry(m) {
    var entry = messageEntry({ mine: true, body: m.body, files: m.files, at: m.at });
    entry.cmid = m.client_msg_id;
    byCmid[entry.cmid] = entry;
    mine.push(entry);
    place(entry);
    refreshStates();
    return entry;
  }

  function confirm(entry, ticket, seq, at) {
    if (entry.s) return;
    entry.t = ticket;
    entry.s = seq;
    rows[ticket + ":" + seq] = entry;
    if (at) {
      entry.at = at;
      setTime(entry);
    }
    entry.state = "sent";
    place(entry);
    refreshStates();
  }

  function statusText(ev) {
    var name = (ev.author && ev.author.type === "agent" && ev.author.name) || S.agentName || t("agent");
    if (ev.to === "open" && ev.from === "new") return t("status_open", { name: name });
    if (ev.to === "open" && ev.from === "solved") return t("status_reopened");
    if (ev.to === "new" && ev.from === "open") return t("status_new");
    if (ev.to === "solved") return t("status_solved");
    if (ev.to === "closed") return t("status_closed");
    return null;
  }

  function setTicket(id) {
    if (id === S.ticket) return;
    S.ticket = id;
    S.maxSeq = 0;
    S.sentRead = 0;
    Object.keys(rows).forEach(function (key) {
      var entry = rows[key];
      if (entry.t === id && entry.s > S.maxSeq) S.maxSeq = entry.s;
    });
  }

  function onTicket(ticket) {
    if (!ticket || typeof ticket.id !== "number") return;
    if (S.ticket !== null && ticket.id < S.ticket) return;
    setTicket(ticket.id);
    S.status = ticket.status || null;
    S.assignee = (ticket.assignee && ticket.assignee.name) || null;
  }

  function addEvent(ev) {
    if (!ev || typeof ev.ticket !== "number" || typeof ev.seq !== "number") return;
    if (ev.visibility && ev.visibility !== "public") return;
    if (S.ticket === null || ev.ticket > S.ticket) setTicket(ev.ticket);
    if (ev.ticket === S.ticket && ev.seq > S.maxSeq) S.maxSeq = ev.seq;
    var key = ev.ticket + ":" + ev.seq;
    var seen = rows[key];
    if (seen) {
      // shown already (each event once); our own message may still lack the server's time
      if (seen.mine && ev.at && seen.at !== ev.at) {
        seen.at = ev.at;
        setTime(seen);
      }
      return;
    }
    var author = ev.author || {};
    var entry;
    if (ev.kind === "message") {
      var isMine = author.type === "visitor";
      entry = isMine && ev.client_msg_id ? byCmid[ev.client_msg_id] : null;
      if (entry) {
        unqueue(entry.cmid);
        confirm(entry, ev.ticket, ev.seq, ev.at);
        return;
      }
      entry = messageEntry({
        mine: isMine,
        name: author.name,
        body: ev.body,
        files: ev.attachments,
        at: ev.at,
      });
      entry.t = ev.ticket;
      entry.s = ev.seq;
      rows[key] = entry;
      if (isMine) {
        entry.state = "sent";
        if (ev.client_msg_id) {
          entry.cmid = ev.client_msg_id;
          byCmid[entry.cmid] = entry;
        }
        mine.push(entry);
      } else {
        if (author.name) S.agentName = author.name;
        if (author.type === "agent") showTyping(false);
        arrived(entry, ev);
      }
      place(entry);
      refreshStates();
      return;
    }
    entry = { kind: ev.kind, t: ev.ticket, s: ev.seq };
    rows[key] = entry;
    if (ev.kind === "status") {
      if (ev.ticket === S.ticket && ev.to) S.status = ev.to;
      var text = statusText(ev);
      if (text) {
        entry.el = el("div", "row system");
        entry.el.appendChild(el("span", "text", text));
        entry.el._entry = entry;
        place(entry);
      }
    }
  }

  function place(entry) {
    if (!entry.el) return;
    var log = $("log");
    var scroller = $("scroller");
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    var before = null;
    if (entry.s) {
      for (var node = log.firstChild; node; node = node.nextSibling) {
        var other = node._entry;
        if (other === entry) continue;
        if (!other.s || newer(other, entry)) {
          before = node;
          break;
        }
      }
    }
    if (entry.el.parentNode !== log || entry.el.nextSibling !== before) log.insertBefore(entry.el, before);
    regroup();
    stick(atBottom);
  }

  function regroup() {
    var prev = null;
    for (var node = $("log").firstChild; node; node = node.nextSibling) {
      var e = node._entry;
      var who = e.kind !== "message" ? null : e.mine ? "me" : "a:" + (e.name || "");
      node.classList.toggle("cont", who !== null && who === prev);
      prev = who;
    }
  }

  function stick(force) {
    if (!force) return;
    var scroller = $("scroller");
    scroller.scrollTop = scroller.scrollHeight;
  }

  function refreshStates() {
    // "Sent" (stored, acknowledged) or "Seen" (an agent wrote after it) on the newest one;
    // "Sending…" and "Not sent" wherever they apply
    var newest = null;
    mine.forEach(function (e) {
      if (e.s && (!newest || newer(e, newest))) newest = e;
    });
    mine.forEach(function (e) {
      var text = "";
      if (e.state === "failed") text = t("failed", { detail: e.error });
      else if (!e.s) text = t("sending");
      else if (e === newest) text = newer(S.lastAgent, e) ? t("seen") : t("sent");
      e.stateNode.textContent = text ? " · " + text : "";
      e.el.classList.toggle("pending", !e.s && e.state !== "failed");
      e.el.classList.toggle("failed", e.state === "failed");
    });
  }

  function arrived(entry, ev) {
    var pos = { t: entry.t, s: entry.s };
    if (newer(pos, S.lastAgent)) S.lastAgent = pos;
    if (newer(pos, S.told)) {
      S.told = pos;
      store.set("told", pos);
      toHost({
        type: "message",
        message: {
          ticket: ev.ticket,
          seq: ev.seq,
          body: String(ev.body || ""),
          author: { type: "agent", name: (ev.author && ev.author.name) || "" },
          at: ev.at,
        },
      });
    }
  }

  function settled() {
    refreshStates();
    renderHeader();
    updateUnread();
  }

  function updateUnread() {
    var visible = S.open && !d.hidden;
    if (visible && newer(S.lastAgent, S.read)) {
      S.read = S.lastAgent;
      store.set("read", S.read);
    }
    if (visible && S.ready && S.ticket !== null && S.maxSeq > S.sentRead) {
      S.sentRead = S.maxSeq;
      sendRaw({ type: "read", seq: S.maxSeq });
    }
    var count = 0;
    Object.keys(rows).forEach(function (key) {
      var e = rows[key];
      if (e.kind === "message" && !e.mine && newer(e, S.read)) count++;
    });
    if (count !== S.unread) {
      S.unread = count;
      toHost({ type: "unread", count: count });
    }
  }

  // ------------------------------------------------------------------ header, presence, typing

  function renderHeader() {
    var name = S.assignee || (S.status === "open" && S.agentName) || null;
    $("title").textContent = name || t("title");
    var online = S.agentsOnline && S.openNow;
    $("subtitle-text").textContent = name
      ? t("subtitle_agent")
      : online
        ? t("subtitle_online")
        : t(S.openNow ? "subtitle_offline" : "subtitle_closed");
    $("presence").classList.toggle("on", online);
    $("mail").hidden = S.ticket === null;
    if (S.ticket === null) mailForm(false);
    renderCsat();
    var avatar = $("avatar");
    if (name) {
      avatar.textContent = name.trim().charAt(0).toUpperCase();
    } else if (!avatar.firstElementChild) {
      avatar.textContent = "";
      avatar.appendChild(S.icon);
    }
  }

  function renderOffline() {
    var offline = !(S.agentsOnline && S.openNow);
    var email = S.customer && S.customer.email;
    // Outside the site's business hours say so, rather than "nobody online".
    var title = $("offline").querySelector(".offline-title");
    if (title) title.textContent = t(S.openNow ? "offline_title" : "closed_title");
    $("offline").hidden = !offline || !!email;
    var done = $("offline-done");
    done.hidden = !offline || !email;
    if (email) done.textContent = t(S.emailSaved ? "email_saved" : "email_known", { email: email });
  }

  function showTyping(on, name) {
    var box = $("typing");
    if (on) {
      $("typing-text").textContent = t("typing", { name: name || S.agentName || t("agent") });
      box.hidden = false;
      later("typing", function () {
        showTyping(false);
      }, TYPING_SHOWN_MS);
    } else {
      box.hidden = true;
      later("typing", null, null);
    }
  }

  function onInput() {
    autosize();
    if (!S.ready || !$("input").value) return;
    var now = Date.now();
    if (now - S.typedAt > TYPING_EVERY_MS) {
      S.typedAt = now;
      S.typingOn = sendRaw({ type: "typing", on: true });
    }
    later("idle", stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    later("idle", null, null);
    if (S.typingOn) sendRaw({ type: "typing", on: false });
    S.typingOn = false;
    S.typedAt = 0;
  }

  function autosize() {
    var input = $("input");
    input.style.height = "auto"; // CSSOM, allowed by the frame's CSP
    input.style.height = Math.min(input.scrollHeight + 2, 132) + "px";
  }

  function hint(text) {
    var box = $("files");
    var old = box.querySelector(".hint");
    if (old) old.remove();
    if (text) {
      var li = el("li", "file failed hint");
      li.appendChild(el("span", "label", text));
      li.setAttribute("role", "alert");
      box.insertBefore(li, box.firstChild);
    }
  }

  // ------------------------------------------------------------------ rating (CSAT) and transcript

  function setCsat(id) {
    S.csat = id;
    store.set("csat", id);
  }

  function askCsat(id) {
    if (typeof id !== "number" || (S.ticket !== null && id < S.ticket)) return;
    if (S.ticket === null || id > S.ticket) setTicket(id);
    S.status = "solved"; // the request follows the solve
    setCsat(id);
    $("csat").reset();
    $("csat-error").textContent = "";
    renderCsat();
    stick(true);
  }

  function renderCsat() {
    // the prompt waits while its ticket stays solved; a reopened or newer ticket ends it
    if (!S.ready) return;
    var solved = S.status === "solved";
    if (S.csat !== null && (S.csat !== S.ticket || !solved)) setCsat(null);
    $("csat").hidden = S.csat === null;
    if (!solved) $("csat-done").hidden = true;
  }

  function sendCsat() {
    var form = $("csat");
    var error = $("csat-error");
    var picked = form.querySelector("input:checked");
    if (!picked) {
      error.textContent = t("csat_pick");
      form.querySelector("input").focus();
      return;
    }
    var frame = { type: "rating", score: +picked.value };
    var comment = $("csat-comment").value.trim();
    if (comment) frame.comment = comment.slice(0, 2000);
    var button = form.querySelector("button");
    button.disabled = true;
    error.textContent = "";
    request(frame, function (res) {
      button.disabled = false;
      if (res && (res.type === "ok" || res.code === "conflict")) {
        // conflict: this solve was rated already (in another tab, say)
        setCsat(null);
        form.hidden = true;
        var done = $("csat-done");
        done.textContent = t(res.type === "ok" ? "csat_thanks" : "csat_rated");
        done.hidden = false;
        $("input").focus();
        stick(true);
      } else {
        error.textContent = res ? res.detail || res.code : t("retry");
      }
    });
  }

  function mailForm(open) {
    var form = $("tx");
    if (form.hidden === !open) return;
    form.hidden = !open;
    $("mail").setAttribute("aria-expanded", String(open));
    if (open) {
      var field = $("tx-email");
      if (!field.value) field.value = S.customer.email || "";
      mailSay("");
      field.focus();
    }
  }

  function mailSay(text, bad) {
    var note = $("tx-result");
    note.textContent = text;
    note.classList.toggle("bad", !!bad);
  }

  function sendMail() {
    var email = $("tx-email").value.trim();
    var to = email || S.customer.email;
    if (!to) {
      mailSay(t("email_invalid"), 1);
      $("tx-email").focus();
      return;
    }
    var frame = { type: "transcript" };
    if (email) frame.email = email;
    mailSay(t("sending"));
    request(frame, function (res) {
      if (res && res.type === "ok") mailSay(t("tx_sent", { email: to }));
      else if (res && res.code === "unavailable") mailSay(t("tx_unavailable"), 1);
      else mailSay(res ? res.detail || res.code : t("retry"), 1);
    });
  }

  // ------------------------------------------------------------------ uploads

  function uploadError(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && typeof body.detail === "string" && body.detail) return body.detail;
    } catch (e) {
      /* not JSON: say it in words below */
    }
    if (xhr.status === 404 || xhr.status === 405) return t("upload_missing");
    if (xhr.status === 413) return t("upload_too_large");
    if (xhr.status === 415) return t("upload_type");
    return t("upload_http", { n: xhr.status });
  }

  function upload(file) {
    var item = { name: file.name || "file", size: file.size, state: "uploading", pct: 0 };
    uploads.push(item);
    hint("");
    if (!S.token) {
      item.state = "failed";
      item.error = t("connecting");
      renderUploads();
      return;
    }
    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", "/api/v1/visitor/uploads");
    xhr.setRequestHeader("Authorization", "Visitor " + S.token);
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      item.pct = Math.min(100, Math.round((e.loaded * 100) / e.total));
      renderUploads();
    };
    xhr.onload = function () {
      var attachment = null;
      if (xhr.status === 201 || xhr.status === 200) {
        try {
          var body = JSON.parse(xhr.responseText);
          attachment = body && (body.attachment || body);
        } catch (e) {
          attachment = null;
        }
      }
      if (attachment && attachment.id) {
        item.state = "ready";
        item.attachment = {
          id: attachment.id,
          filename: attachment.filename || item.name,
          size: attachment.size,
          url: attachment.url,
        };
      } else {
        item.state = "failed";
        item.error = attachment ? t("upload_http", { n: xhr.status }) : uploadError(xhr);
      }
      renderUploads();
    };
    xhr.onerror = function () {
      item.state = "failed";
      item.error = t("upload_network");
      renderUploads();
    };
    var form = new FormData();
    form.append("file", file, item.name);
    xhr.send(form);
    renderUploads();
  }

  function renderUploads() {
    var box = $("files");
    var keep = box.querySelector(".hint");
    box.textContent = "";
    if (keep) box.appendChild(keep);
    uploads.forEach(function (item) {
      var li = el("li", "file" + (item.state === "failed" ? " failed" : ""));
      var text =
        item.state === "uploading"
          ? t("uploading", { name: item.name, pct: item.pct })
          : item.state === "ready"
            ? t("uploaded", { name: item.name })
            : t("upload_failed", { name: item.name, detail: item.error });
      var label = el("span", "label", text);
      if (item.state === "failed") label.setAttribute("role", "alert");
      li.appendChild(label);
      if (item.state === "uploading") {
        var bar = el("progress");
        bar.max = 100;
        bar.value = item.pct;
        bar.setAttribute("aria-label", item.name);
        li.appendChild(bar);
      }
      var remove = el("button", "icon-btn");
      remove.type = "button";
      remove.setAttribute("aria-label", t("remove", { name: item.name }));
      remove.appendChild(S.xIcon.cloneNode(true));
      remove.addEventListener("click", function () {
        if (item.xhr && item.state === "uploading") item.xhr.abort();
        uploads = uploads.filter(function (u) {
          return u !== item;
        });
        renderUploads();
        $("input").focus();
      });
      li.appendChild(remove);
      box.appendChild(li);
    });
  }

  // ------------------------------------------------------------------ wiring

  function wire() {
    Array.prototype.forEach.call(d.querySelectorAll("[data-text]"), function (node) {
      node.textContent = t(node.getAttribute("data-text"));
    });
    Array.prototype.forEach.call(d.querySelectorAll("[data-aria]"), function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-aria")));
    });
    Array.prototype.forEach.call(d.querySelectorAll("[data-placeholder]"), function (node) {
      node.setAttribute("placeholder", t(node.getAttribute("data-placeholder")));
    });
    d.documentElement.lang = lang;
    d.title = t("dialog");
    if (!framed) d.body.classList.add("standalone");
    S.icon = $("avatar").firstElementChild;
    S.xIcon = $("close").firstElementChild.cloneNode(true);
    S.xIcon.firstElementChild.setAttribute("d", "M7 7l10 10M17 7L7 17");

    var input = $("input");
    $("composer").addEventListener("submit", function (e) {
      e.preventDefault();
      submit();
      input.focus();
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", onInput);
    input.addEventListener("blur", stopTyping);
    input.addEventListener("paste", function (e) {
      var files = e.clipboardData && e.clipboardData.files;
      if (files && files.length) {
        e.preventDefault();
        Array.prototype.forEach.call(files, upload);
      }
    });
    $("close").addEventListener("click", requestClose);
    $("mail").title = t("transcript");
    $("mail").addEventListener("click", function () {
      mailForm($("tx").hidden);
    });
    $("tx").addEventListener("submit", function (e) {
      e.preventDefault();
      sendMail();
    });
    $("csat").addEventListener("submit", function (e) {
      e.preventDefault();
      sendCsat();
    });
    d.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        e.preventDefault();
        requestClose();
      }
    });
    $("attach").addEventListener("click", function () {
      $("file").click();
    });
    $("file").addEventListener("change", function () {
      Array.prototype.forEach.call(this.files || [], upload);
      this.value = "";
    });

    var depth = 0;
    var panel = $("panel");
    function hasFiles(e) {
      var types = e.dataTransfer && e.dataTransfer.types;
      return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
    }
    panel.addEventListener("dragenter", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      $("drop").hidden = false;
    });
    panel.addEventListener("dragover", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    panel.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) $("drop").hidden = true;
    });
    panel.addEventListener("drop", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      $("drop").hidden = true;
      Array.prototype.forEach.call(e.dataTransfer.files, upload);
    });

    $("offline").addEventListener("submit", function (e) {
      e.preventDefault();
      var field = $("email");
      var email = field.value.trim();
      var error = $("email-error");
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        error.textContent = t("email_invalid");
        field.setAttribute("aria-invalid", "true");
        field.focus();
        return;
      }
      error.textContent = "";
      field.removeAttribute("aria-invalid");
      request({ type: "profile", email: email }, function (res) {
        if (res && res.type === "ok") {
          var shown = (res.customer && res.customer.email) || email;
          S.customer = Object.assign({}, S.customer, { email: shown });
          S.emailSaved = true;
          renderOffline();
          $("input").focus();
        } else {
          error.textContent = (res && res.detail) || t("reconnecting");
        }
      });
    });

    d.addEventListener("visibilitychange", function () {
      if (d.hidden) return;
      updateUnread();
      if (S.started && !S.ws) reconnectNow();
    });
    w.addEventListener("online", function () {
      if (S.started && !S.ws) reconnectNow();
    });
    w.addEventListener("storage", function (e) {
      if (e.key === store.key("read")) {
        S.read = position(store.get("read"));
        updateUnread();
      }
    });
  }

  function start() {
    if (S.started) return;
    S.started = true;
    S.outbox.forEach(pendingEntry); // unsent messages from an earlier visit
    renderHeader();
    renderOffline();
    later("banner", function () {
      banner(t("connecting"));
    }, BANNER_AFTER_MS);
    connect();
  }

  wire();
  renderHeader();
  if (!framed) start();
})();
