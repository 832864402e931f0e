// REST calls under /api/v1 with the session cookie. Errors carry the contract's code;
// an endpoint this server does not have yet is flagged `missing` with a readable text.

import { Emitter } from "./emitter.js";

export const apiEvents = new Emitter();

export class ApiError extends Error {
  constructor(status, code, detail, extra = {}) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail || code;
    this.extra = extra;
    this.missing = false;
  }
}

function query(params) {
  if (!params) return "";
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value == null || value === "") continue;
    qs.set(key, String(value));
  }
  const text = qs.toString();
  return text ? `?${text}` : "";
}

/**
 * api("/tickets", {query: {status: "new"}}); api("/auth/login", {method: "POST", json: {...}});
 * api("/uploads", {method: "POST", form: formData}). Resolves with the JSON body (null on 204).
 */
export async function api(path, { method = "GET", query: params, json, form, signal } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}${query(params)}`, {
      method,
      headers,
      body,
      signal,
      credentials: "same-origin",
    });
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, "offline", "Cannot reach the server; check the connection.");
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : null;
  if (res.ok) return data;
  if (data && typeof data.code === "string") {
    const err = new ApiError(res.status, data.code, data.detail, data);
    if (res.status === 401 && !path.startsWith("/auth/")) apiEvents.emit("unauthorized", err);
    throw err;
  }
  if (res.status === 404 || res.status === 405) {
    const err = new ApiError(
      res.status,
      "not_found",
      `This server does not offer ${method} /api/v1${path.split("?")[0]} yet.`,
    );
    err.missing = true;
    throw err;
  }
  throw new ApiError(res.status, "unavailable", `The server answered ${res.status}; try again.`);
}

/** Every page of a list endpoint, up to `maxPages`; `more` tells whether some were left. */
export async function listAll(path, params = {}, maxPages = 5) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const data = await api(path, { query: { ...params, cursor } });
    items.push(...(data?.items ?? []));
    cursor = data?.next_cursor ?? null;
    if (!cursor) return { items, more: false };
  }
  return { items, more: true };
}

export function describe(err) {
  if (!err) return "Something went wrong.";
  if (err.code === "rate_limited" && err.extra?.retry_after) {
    return `${err.detail} (retry in ${err.extra.retry_after}s)`;
  }
  return err.detail || err.message || String(err);
}
