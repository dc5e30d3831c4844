// The results service's REST API, from the browser. Paths are resolved against the page,
// so the gallery also works when the service is mounted under a path prefix.
//
// With auth on, every call carries `Authorization: Bearer <API key or token>`; the
// credential lives in sessionStorage (this tab only, gone when it closes) and is asked for
// by a sign-in form the first time the API answers 401. Images are fetched the same way and
// shown through blob: URLs, so a credential never appears in a URL.

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

const CREDENTIAL = "deeplens.credential";

/** The stored API key or token, or null (never signed in, or auth is off). */
export const credential = () => sessionStorage.getItem(CREDENTIAL);

/** Forget the stored credential (sign out). */
export function signOut() {
  sessionStorage.removeItem(CREDENTIAL);
}

let signIn = null; // the sign-in in progress: every request that got a 401 waits for the same one

/** Ask for a credential (the sign-in dialog) and store it; resolves once one is given. */
function askForCredential(reason) {
  if (!signIn) {
    signIn = new Promise((resolve) => {
      const dialog = document.getElementById("signin-dialog");
      const form = dialog.querySelector("form");
      const input = form.querySelector("input");
      dialog.querySelector("[data-signin-reason]").textContent = reason || "";
      input.value = "";
      form.onsubmit = (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (!value) return;
        sessionStorage.setItem(CREDENTIAL, value);
        input.value = "";
        document.getElementById("signout")?.removeAttribute("hidden");
        dialog.close();
        signIn = null;
        resolve();
      };
      dialog.oncancel = (event) => event.preventDefault(); // requests wait on it: Escape must not strand them
      if (!dialog.open) dialog.showModal();
    });
  }
  return signIn;
}

/** fetch() with the stored credential; on a 401 asks to sign in and tries again. */
async function authedFetch(target, init = {}) {
  for (;;) {
    const headers = { ...(init.headers || {}) };
    const stored = credential();
    if (stored) headers.Authorization = `Bearer ${stored}`;
    const response = await fetch(target, { ...init, headers });
    if (response.status !== 401) return response;
    if (credential() !== stored) continue; // signed in again meanwhile: retry with the new credential
    const error = await errorOf(response);
    signOut();
    await askForCredential(stored ? `${error.detail} Sign in again.` : "");
  }
}

/** GET (or `method`) a JSON endpoint; throws ApiError with the API's error and detail. */
export async function api(path, { params, method = "GET", body, signal } = {}) {
  let response;
  try {
    response = await authedFetch(url(path, params), { method, body, signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, "unreachable", "The results service cannot be reached. Is `deeplens serve` running?");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

const blobs = new Map(); // path → Promise of a blob: URL, so an image shown twice is fetched once

/** A blob: URL of an image of the service (fetched with the credential); throws ApiError. */
export function blobUrl(path) {
  if (!blobs.has(path)) {
    const pending = authedFetch(path).then(async (response) => {
      if (!response.ok) throw await errorOf(response);
      return URL.createObjectURL(await response.blob());
    });
    pending.catch(() => blobs.delete(path));
    blobs.set(path, pending);
  }
  return blobs.get(path);
}

/** Show the service's image `path` in `img`; a failure fires the img's own "error" event. */
export function loadImage(img, path) {
  blobUrl(path).then((src) => { img.src = src; }, () => img.dispatchEvent(new Event("error")));
  return img;
}

/** Open the service's image `path` in a new tab (as a blob: URL). */
export async function openImage(path) {
  window.open(await blobUrl(path), "_blank", "noopener");
}

/** Save the service's file `path` as `filename`. */
export async function download(path, filename) {
  const link = Object.assign(document.createElement("a"), { href: await blobUrl(path), download: filename });
  link.click();
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
