// Times as agents read them: "3m", "14:03", "Tue 14:03", full date on hover.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function parse(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** Short elapsed time: "now", "45s", "3m", "2h 5m", "4d". */
export function ago(iso, now = Date.now()) {
  const t = parse(iso);
  if (t == null) return "";
  const d = Math.max(0, now - t);
  if (d < 45_000) return "now";
  if (d < HOUR) return `${Math.round(d / MINUTE)}m`;
  if (d < 6 * HOUR) {
    const m = Math.floor((d % HOUR) / MINUTE);
    return m ? `${Math.floor(d / HOUR)}h ${m}m` : `${Math.floor(d / HOUR)}h`;
  }
  if (d < DAY) return `${Math.round(d / HOUR)}h`;
  if (d < 60 * DAY) return `${Math.round(d / DAY)}d`;
  return new Date(t).toLocaleDateString();
}

export function agoLong(iso) {
  const short = ago(iso);
  return short === "now" ? "just now" : short ? `${short} ago` : "";
}

export function clock(iso) {
  const t = parse(iso);
  if (t == null) return "";
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function full(iso) {
  const t = parse(iso);
  if (t == null) return "";
  return new Date(t).toLocaleString([], {
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function day(iso) {
  const t = parse(iso);
  if (t == null) return "";
  const date = new Date(t);
  const today = new Date();
  const yesterday = new Date(Date.now() - DAY);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return date.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
}

/** Minutes waited, for colouring the New list. */
export function waitedMinutes(iso, now = Date.now()) {
  const t = parse(iso);
  return t == null ? 0 : (now - t) / MINUTE;
}

export function bytes(n) {
  if (typeof n !== "number") return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
