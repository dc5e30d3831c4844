// The results service's REST API, from the browser. Paths are resolved against the page,
// so the gallery also works when the service is mounted under a path prefix.

export class ApiError extends Error {
  /** status: HTTP status (0: unreachable); code: the API's `error`; detail: its `detail`. */
  constructor(status, code, detail) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** A URL of the service: "/images/frame/3" → "images/frame/3" resolved against the page. */
export function url(path, params) {
  const rel = String(path).replace(/^\/+/, "");
  const u = new URL(rel, document.baseURI);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) u.searchParams.append(name, String(v));
  }
  return u.pathname + u.search;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON: fall through */
  }
  if (body && typeof body === "object") {
    if (body.error) return new ApiError(response.status, body.error, typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
    if (Array.isArray(body.detail)) {
      // FastAPI's request validation: [{loc, msg, type}, …]
      const msgs = body.detail.map((d) => {
        const where = (d.loc || []).filter((p) => p !== "query" && p !== "body" && p !== "path").join(".");
        return where ? `${where}: ${d.msg}` : d.msg;
      });
      return new ApiError(response.status, "invalid_request", msgs.join("; "));
    }
    if (typeof body.detail === "string") return new ApiError(response.status, response.status === 404 ? "not_found" : "error", body.detail);
  }
  return new ApiError(response.status, `http_${response.status}`, `${response.status} ${response.statusText || "error"}`);
}

/** GET (or `method`) a JSON endpoint; throws ApiError with the API's error and detail. */
export async function api(path, { params, method = "GET", body, signal } = {}) {
  let response;
  try {
    response = await fetch(url(path, params), { method, body, signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, "unreachable", "The results service cannot be reached. Is `deeplens serve` running?");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

/** Every item of a paginated listing (up to `max`), fetched page by page. */
export async function allPages(path, params, { signal, pageSize = 500, max = 5000 } = {}) {
  const items = [];
  for (;;) {
    const page = await api(path, { params: { ...params, limit: pageSize, offset: items.length }, signal });
    items.push(...page.items);
    if (!page.items.length || items.length >= page.total || items.length >= max) return { items, total: page.total };
  }
}

const memo = new Map();

/** GET once per page load (models, health): later calls share the first answer. */
export function once(path, params) {
  const key = url(path, params);
  if (!memo.has(key)) {
    const pending = api(path, { params }).catch((err) => {
      memo.delete(key);
      throw err;
    });
    memo.set(key, pending);
  }
  return memo.get(key);
}

// Ids of products' photos and videos' poster frames, looked up a page at a time and remembered.
const photoIds = new Map();
const posterIds = new Map();

async function lookup(cache, path, param, keys, signal) {
  const missing = keys.filter((k) => !cache.has(k));
  if (missing.length) {
    try {
      const found = await api(path, { params: { [param]: missing }, signal });
      for (const k of missing) cache.set(k, found[k] ?? null);
    } catch (err) {
      if (err?.name === "AbortError") throw err;
      console.warn(`${path}: ${err.detail || err}`); // placeholders stand in for the pictures
    }
  }
  return new Map(keys.map((k) => [k, cache.get(k) ?? null]));
}

export const productPhotos = (skus, signal) => lookup(photoIds, "/gallery/product-photos", "sku", skus, signal);
export const videoPosters = (videos, signal) => lookup(posterIds, "/gallery/video-posters", "video", videos, signal);

export const imageUrl = (kind, id, thumb = true) => url(`/images/${kind}/${id}`, thumb ? { thumb: 1 } : undefined);
export const evidenceUrl = (appearanceId) => url(`/appearances/${encodeURIComponent(appearanceId)}/evidence`);
