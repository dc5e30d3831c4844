// The DeepLens gallery: a hash router over the views. No framework, no build step.

import { api, credential, signOut } from "./api.js";
import { h, mount } from "./dom.js";
import { failuresView } from "./failures.js";
import { productsView, productView } from "./products.js";
import { searchView } from "./search.js";
import { videosView, videoView } from "./videos.js";
import { errorBox } from "./ui.js";

const main = document.getElementById("main");

const signOutButton = document.getElementById("signout");
signOutButton.hidden = !credential();
signOutButton.addEventListener("click", () => {
  signOut();
  location.reload();
});
let current = null; // AbortController of the view being shown

/** "#/videos/v1?appearance=x" → { parts: ["videos", "v1"], params } */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, params: new URLSearchParams(query) };
}

const TITLES = { products: "Products", videos: "Videos", search: "Search", failures: "Failures" };

async function route({ focus = false } = {}) {
  current?.abort();
  current = new AbortController();
  const { signal } = current;
  const { parts, params } = parseHash();
  const [section = "products", id] = parts;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${id ? `${id} · ` : ""}${TITLES[section] || "DeepLens"} · DeepLens`;
  const dialog = document.getElementById("evidence-dialog");
  if (dialog?.open && !params.get("appearance")) dialog.close();
  main.dataset.view = id ? `${section}-detail` : section;
  main.setAttribute("aria-busy", "true");
  try {
    if (section === "products") await (id ? productView(main, id, params, signal) : productsView(main, params, signal));
    else if (section === "videos") await (id ? videoView(main, id, params, signal) : videosView(main, params, signal));
    else if (section === "search") await searchView(main, params, signal);
    else if (section === "failures") await failuresView(main, params, signal);
    else mount(main, errorBox({ code: "not_found", detail: `There is no page “${location.hash}”.` }));
  } catch (err) {
    if (err?.name !== "AbortError") {
      console.error(err);
      mount(main, errorBox(err));
    }
  } finally {
    if (!signal.aborted) {
      main.setAttribute("aria-busy", "false");
      // Move focus to the new page's heading for keyboard and screen-reader users.
      if (focus && !document.getElementById("evidence-dialog")?.open) document.getElementById("page-title")?.focus({ preventScroll: true });
    }
  }
}

async function health() {
  const el = document.getElementById("health");
  try {
    const answer = await api("/health");
    mount(el, h("span", { class: "dot ok", "aria-hidden": "true" }), h("span", { class: "health-text" }, `v${answer.version}`));
    el.title = "The results service is up and its database answers.";
  } catch (err) {
    mount(el, h("span", { class: "dot bad", "aria-hidden": "true" }), h("span", { class: "health-text" }, "offline"));
    el.title = err.detail || "The results service does not answer.";
  }
}

window.addEventListener("hashchange", () => {
  window.scrollTo({ top: 0 });
  route({ focus: true });
});
if (!location.hash) history.replaceState(null, "", "#/products");
route();
health();
