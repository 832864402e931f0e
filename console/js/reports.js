// Settings → Reports: GET /api/v1/reports/summary for a period (and a group or an agent):
// new chats, first response and resolution times, satisfaction, per agent and per group,
// a bar chart of new chats per day drawn as plain SVG, and the same as CSV.

import { api, describe } from "./api.js";
import { append, clear, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const DAY = 86_400_000;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function isoDay(d) {
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

export class ReportsPage {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    const today = new Date();
    this.params = {
      from: isoDay(new Date(today - 13 * DAY)),
      to: isoDay(today),
      group: "",
      agent: "",
    };
    this.groups = [];
    this.agents = [];
  }

  async load() {
    const get = async (path) => {
      try {
        return (await api(path, { query: { limit: 100 } }))?.items ?? [];
      } catch {
        return [];
      }
    };
    [this.groups, this.agents] = await Promise.all([get("/groups"), get("/agents")]);
    this.render();
    await this.run();
  }

  render() {
    const p = this.params;
    const field = (label, control) =>
      h("label", { class: "field" }, h("span", { class: "field-label", text: label }), control);
    const form = h(
      "form",
      { class: "report-form" },
      field(
        "From",
        h("input", { class: "input small", type: "date", name: "from", value: p.from }),
      ),
      field("To", h("input", { class: "input small", type: "date", name: "to", value: p.to })),
      field(
        "Group",
        h(
          "select",
          { class: "input small", name: "group" },
          h("option", { value: "", text: "All groups" }),
          this.groups.map((g) =>
            h("option", { value: g.id, text: g.name, selected: String(g.id) === p.group }),
          ),
        ),
      ),
      field(
        "Agent",
        h(
          "select",
          { class: "input small", name: "agent" },
          h("option", { value: "", text: "All agents" }),
          this.agents.map((a) =>
            h("option", { value: a.id, text: a.name, selected: String(a.id) === p.agent }),
          ),
        ),
      ),
      h(
        "div",
        { class: "report-buttons" },
        h("button", { type: "submit", class: "btn small primary", text: "Show" }),
        (this.csv = h("a", {
          class: "btn small",
          href: this.#csvUrl(),
          download: "chatdesk-report.csv",
          text: "Export CSV",
        })),
      ),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = form.elements;
      this.params = {
        from: f.from.value,
        to: f.to.value,
        group: f.group.value,
        agent: f.agent.value,
      };
      this.csv.href = this.#csvUrl();
      this.run();
    });
    this.out = h("div", { class: "report" });
    clear(this.root).append(h("h2", { text: this.page.title }), form, this.out);
  }

  #query() {
    const q = {};
    for (const [k, v] of Object.entries(this.params)) if (v) q[k] = v;
    return q;
  }

  #csvUrl() {
    return `/api/v1/reports/export.csv?${new URLSearchParams(this.#query())}`;
  }

  async run() {
    clear(this.out).append(h("p", { class: "muted", text: "Loading…" }));
    let data;
    try {
      data = await api("/reports/summary", { query: this.#query() });
    } catch (err) {
      clear(this.out).append(
        h("p", {
          class: err.missing ? "notice" : "notice error",
          text: err.missing
            ? `Reports: ${describe(err)} This page works once it does.`
            : describe(err),
        }),
      );
      return;
    }
    this.#show(data ?? {});
  }

  #show(data) {
    const days = this.#days(data.new_per_day ?? []);
    const total = days.reduce((n, d) => n + d.count, 0);
    const tile = (label, value, sub = null) =>
      h(
        "div",
        { class: "tile-stat" },
        h("span", { class: "stat-label", text: label }),
        h("strong", { class: "stat-value", text: value }),
        sub ? h("span", { class: "muted small", text: sub }) : null,
      );
    const fr = data.first_response_s ?? {};
    const rs = data.resolution_s ?? {};
    const csat = data.csat ?? {};
    append(clear(this.out), [
      h(
        "div",
        { class: "stats" },
        tile("New chats", String(total), `${days.length} days`),
        tile(
          "First response (median)",
          duration(fr.median),
          fr.p90 != null ? `90% within ${duration(fr.p90)}` : null,
        ),
        tile(
          "Resolution (median)",
          duration(rs.median),
          rs.p90 != null ? `90% within ${duration(rs.p90)}` : null,
        ),
        tile(
          "Satisfaction",
          csat.average != null ? `${Number(csat.average).toFixed(1)} / 5` : "—",
          `${csat.count ?? 0} rating(s)`,
        ),
      ),
      h("h3", { class: "report-h", text: "New chats per day" }),
      chart(days),
      table("Per agent", data.per_agent),
      table("Per group", data.per_group),
    ]);
  }

  /** Every day of the period, with 0 where the server listed none. */
  #days(rows) {
    const counts = new Map(rows.map((r) => [String(r.day).slice(0, 10), Number(r.count) || 0]));
    const from = Date.parse(`${this.params.from}T00:00:00Z`);
    const to = Date.parse(`${this.params.to}T00:00:00Z`);
    if (Number.isNaN(from) || Number.isNaN(to) || to < from || (to - from) / DAY > 366) {
      return rows.map((r) => ({ day: String(r.day).slice(0, 10), count: Number(r.count) || 0 }));
    }
    const out = [];
    for (let t = from; t <= to; t += DAY) {
      const day = new Date(t).toISOString().slice(0, 10);
      out.push({ day, count: counts.get(day) ?? 0 });
    }
    return out;
  }
}

/** Bars of new chats per day: plain SVG, scaled by the viewBox. */
function chart(days) {
  if (!days.length) return h("p", { class: "muted", text: "No days in this period." });
  const W = 720;
  const H = 200;
  const pad = { l: 34, r: 8, t: 12, b: 28 };
  const max = Math.max(1, ...days.map((d) => d.count));
  const top = Math.max(2, niceMax(max));
  const bw = (W - pad.l - pad.r) / days.length;
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / top);
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": `New chats per day, at most ${max}`,
  });
  for (const v of top % 2 ? [0, top] : [0, top / 2, top]) {
    svg.append(
      s("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: "grid" }),
      s(
        "text",
        { x: pad.l - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" },
        String(Math.round(v)),
      ),
    );
  }
  const every = Math.ceil(days.length / 10);
  days.forEach((d, i) => {
    const x = pad.l + i * bw;
    const height = Math.max(0, y(0) - y(d.count));
    svg.append(
      s(
        "rect",
        {
          x: x + bw * 0.15,
          y: y(d.count),
          width: Math.max(1, bw * 0.7),
          height,
          class: "bar",
          rx: 2,
          "data-day": d.day,
          "data-count": d.count,
        },
        s("title", {}, `${d.day}: ${d.count} new chat${d.count === 1 ? "" : "s"}`),
      ),
    );
    if (i % every === 0) {
      svg.append(
        s(
          "text",
          { x: x + bw / 2, y: H - 10, class: "axis", "text-anchor": "middle" },
          d.day.slice(5),
        ),
      );
    }
  });
  return h("div", { class: "chart-box" }, svg);
}

function niceMax(n) {
  const step = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * step >= n) return m * step;
  return n;
}

function duration(seconds) {
  if (seconds == null || Number.isNaN(Number(seconds))) return "—";
  const v = Number(seconds);
  if (v < 60) return `${Math.round(v)}s`;
  if (v < 3600) return `${Math.floor(v / 60)}m ${Math.round(v % 60)}s`;
  if (v < 86400) return `${Math.floor(v / 3600)}h ${Math.round((v % 3600) / 60)}m`;
  return `${(v / 86400).toFixed(1)} days`;
}

/** Rows of whatever the server reports per agent or group; nested names are shown, times read. */
function table(title, rows) {
  if (!Array.isArray(rows) || !rows.length) return null;
  const keys = Array.from(new Set(rows.flatMap((r) => Object.keys(r)))).filter((k) => k !== "id");
  const cell = (k, v) => {
    if (v == null) return "—";
    if (typeof v === "object") {
      if (v.name != null) return v.name;
      if ("median" in v) return `${duration(v.median)} (90%: ${duration(v.p90)})`;
      if ("average" in v)
        return v.average == null ? "—" : `${Number(v.average).toFixed(1)} (${v.count ?? 0})`;
      return JSON.stringify(v);
    }
    if (typeof v === "number" && k.endsWith("_s")) return duration(v);
    return String(v);
  };
  return h(
    "div",
    null,
    h("h3", { class: "report-h", text: title }),
    h(
      "table",
      { class: "table compact" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          keys.map((k) => h("th", { text: k.replace(/_s$/, "").replace(/_/g, " ") })),
        ),
      ),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            null,
            keys.map((k) => h("td", { text: cell(k, r[k]) })),
          ),
        ),
      ),
    ),
  );
}
