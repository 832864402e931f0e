// Agent uploads: POST /api/v1/uploads (multipart field `file`) → 201 {attachment}.

import { api } from "./api.js";

export const MAX_FILES = 10;

export async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name || "pasted-image.png");
  const data = await api("/uploads", { method: "POST", form });
  const attachment = data?.attachment ?? data;
  if (!attachment?.id) throw new Error("The server did not return the uploaded file.");
  return attachment;
}

/** Files carried by a paste or drop (images copied from a screenshot tool included). */
export function filesOf(transfer) {
  if (!transfer) return [];
  const files = Array.from(transfer.files ?? []);
  if (files.length) return files;
  return Array.from(transfer.items ?? [])
    .filter((i) => i.kind === "file")
    .map((i) => i.getAsFile())
    .filter(Boolean);
}
