// Ticket types (GET /api/v1/ticket-types), fetched once and shared by the create form, the
// ticket brief and the settings page; `forget()` after an admin changed them.

import { api, describe } from "./api.js";

let cache = null;
let loading = null;

/** {items: [type], error: text|null}; never throws. */
export function loadTypes(force = false) {
  if (force) cache = null;
  if (cache) return Promise.resolve(cache);
  loading ??= api("/ticket-types", { query: { limit: 100 } })
    .then((data) => {
      cache = { items: data?.items ?? [], error: null };
      return cache;
    })
    .catch((err) => {
      const error =
        err.code === "forbidden"
          ? "Only admins may list ticket types on this server; ask one to open them to agents."
          : err.missing
            ? `Ticket types: ${describe(err)}`
            : describe(err);
      return { items: [], error };
    })
    .finally(() => {
      loading = null;
    });
  return loading;
}

export function cachedType(id) {
  return cache?.items.find((t) => t.id === id) ?? null;
}

export function forgetTypes() {
  cache = null;
}
