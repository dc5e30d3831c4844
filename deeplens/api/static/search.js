// Search: by text, by a dropped or chosen image, or "more like this" an indexed item.
// Text and "more like this" searches live in the URL (#/search?q=… / ?similar=kind:id);
// an image search keeps its file in memory, so "Load more" re-sends it with the next offset.

import { api, once, url, imageUrl, openImage } from "./api.js";
import { h, mount, lazyImg, fmtTime, scoreMeter, plural } from "./dom.js";
import { pageHeader, errorBox, emptyState, skeletonGrid, icon } from "./ui.js";

const LIMIT = 24;
const MAX_WINDOW = 1000;
const EXAMPLES = ["cup of coffee", "cat", "running shoe", "packet", "bottle", "book"];
const KINDS = [["all", "Everything"], ["products", "Product photos"], ["frames", "Video keyframes"]];

// The image of the last image search (a File), kept across re-renders of the view.
let queryImage = null;
let queryImageUrl = null;

function setQueryImage(file) {
  if (queryImageUrl) URL.revokeObjectURL(queryImageUrl);
  queryImage = file;
  queryImageUrl = file ? URL.createObjectURL(file) : null;
}

async function modelsList() {
  try {
    return await once("/models");
  } catch {
    return null; // an older service without /models: the picker is hidden
  }
}

function hitCard(hit) {
  const isProduct = hit.kind === "product_image";
  const where = isProduct
    ? h("a", { class: "mono", href: `#/products/${encodeURIComponent(hit.product ?? "")}` }, hit.product ?? "product")
    : h("span", {}, h("a", { class: "mono", href: `#/videos/${encodeURIComponent(hit.video ?? "")}` }, hit.video ?? "video"),
      h("span", { class: "muted" }, ` @ ${fmtTime(hit.t)}`));
  const label = isProduct ? `Product photo of ${hit.product}` : `Keyframe of ${hit.video} at ${fmtTime(hit.t)}`;
  const thumb = hit.thumb_url || `${hit.image_url || `/images/${hit.kind}/${hit.id}`}?thumb=1`;
  return h("li", { class: "card hit-card", dataset: { kind: hit.kind, id: String(hit.id), product: hit.product ?? "", video: hit.video ?? "" } },
    h("a", { class: "card-media", href: url(hit.image_url || `/images/${hit.kind}/${hit.id}`), "aria-label": `Open the full image: ${label}`,
      // Through a blob: URL: a new tab would ask for the image without the credential.
      onclick: (event) => { event.preventDefault(); openImage(url(hit.image_url || `/images/${hit.kind}/${hit.id}`)); } },
      lazyImg(url(thumb), label, { fallback: hit.product || hit.video || hit.kind, className: "card-img" }),
      h("span", { class: ["kind-badge", isProduct ? "kind-product" : "kind-frame"] }, isProduct ? "Product" : "Keyframe")),
    h("div", { class: "card-body" },
      h("div", { class: "hit-where" }, where),
      scoreMeter(hit.score, { label: "Similarity", colour: "var(--accent)" }),
      hit.classes?.length ? h("div", { class: "chips small", "aria-label": "Classes it shows" }, hit.classes.slice(0, 3).map((c) => h("span", { class: "chip" }, c))) : null,
      h("a", { class: "btn btn-small btn-ghost", href: `#/search?${new URLSearchParams({ similar: `${hit.kind}:${hit.id}`, ref: isProduct ? hit.product ?? "" : `${hit.video} @ ${fmtTime(hit.t)}` })}`, "aria-label": `More like this: ${label}` }, icon("similar"), "More like this")));
}

function modelPicker(models, selected) {
  if (!models?.length) return null;
  const usable = models.filter((m) => m.available !== false || m.indexed_total > 0);
  if (usable.length < 2) return null;
  return h("label", { class: "field" }, h("span", {}, "Model"),
    h("select", { name: "model" }, usable.map((m) =>
      h("option", { value: m.default ? "" : m.name, selected: (selected || "") === (m.default ? "" : m.name) },
        `${m.name}${m.default ? " (default)" : ""} · ${m.indexed_total} indexed${m.text_search ? "" : " · no text"}`))));
}

function readForm(form) {
  const data = new FormData(form);
  return { q: (data.get("q") || "").toString().trim(), kind: (data.get("kind") || "all").toString(), model: (data.get("model") || "").toString() };
}

/** The query form: text box, image drop zone / file input, kind and model. */
function searchPanel(state, models, run) {
  const input = h("input", {
    id: "search-text", name: "q", type: "search", value: state.q || "", autocomplete: "off",
    placeholder: "Describe it — “cup of coffee”, “cat”, “running shoe”… or drop an image",
    "aria-describedby": "search-help",
  });
  const file = h("input", { id: "search-file", type: "file", accept: "image/*", class: "sr-only" });
  const kinds = h("fieldset", { class: "segmented" }, h("legend", { class: "sr-only" }, "Search among"),
    KINDS.map(([value, text]) => h("label", {},
      h("input", { type: "radio", name: "kind", value, checked: (state.kind || "all") === value }), h("span", {}, text))));
  const preview = queryImage && state.mode === "image"
    ? h("div", { class: "query-image" },
      h("img", { src: queryImageUrl, alt: `Query image ${queryImage.name}`, onerror: (e) => e.target.replaceWith(icon("image")) }),
      h("span", { class: "query-image-name" }, queryImage.name),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Clear the query image", onclick: () => { setQueryImage(null); location.hash = "#/search"; } }, icon("close")))
    : null;
  const form = h("form", { class: "search-panel", role: "search", "aria-label": "Search images", onsubmit: (e) => {
    e.preventDefault();
    const { q, kind, model } = readForm(form);
    if (!q) {
      if (queryImage) run({ mode: "image", kind, model });
      else input.focus();
      return;
    }
    setQueryImage(null);
    const hash = `#/search?${new URLSearchParams(Object.entries({ q, kind, model }).filter(([, v]) => v && v !== "all"))}`;
    if (location.hash === hash) run({ mode: "text", q, kind, model });
    else location.hash = hash;
  } },
  h("div", { class: "search-row" },
    h("label", { for: "search-text", class: "sr-only" }, "Search text"),
    icon("search", "icon search-icon"),
    input,
    h("label", { for: "search-file", class: "btn btn-ghost file-btn", title: "Search by an image file" }, icon("upload"), h("span", {}, "Image…")),
    file,
    h("button", { type: "submit", class: "btn btn-primary" }, "Search")),
  h("div", { class: "search-options" }, kinds, modelPicker(models, state.model), preview),
  h("p", { id: "search-help", class: "help" }, "Search by words, or drop a photo anywhere on this panel (or choose one) to find what looks like it."));

  const useFile = (f) => {
    if (!f) return;
    setQueryImage(f);
    input.value = "";
    const { kind, model } = readForm(form);
    run({ mode: "image", kind, model });
  };
  file.addEventListener("change", () => useFile(file.files?.[0]));
  for (const name of ["dragenter", "dragover"]) {
    form.addEventListener(name, (e) => {
      if ([...(e.dataTransfer?.types || [])].includes("Files")) {
        e.preventDefault();
        form.classList.add("dragging");
      }
    });
  }
  form.addEventListener("dragleave", (e) => {
    if (!form.contains(e.relatedTarget)) form.classList.remove("dragging");
  });
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("dragging");
    useFile(e.dataTransfer?.files?.[0]);
  });
  // Changing the kind or model re-runs the current search.
  form.addEventListener("change", (e) => {
    if (e.target === file) return;
    if (e.target.name === "kind" || e.target.name === "model") {
      const { q, kind, model } = readForm(form);
      if (state.mode === "image" && queryImage) run({ mode: "image", kind, model });
      else if (state.mode === "similar") location.hash = `#/search?${new URLSearchParams(Object.entries({ similar: state.similar, ref: state.ref, kind, model }).filter(([, v]) => v && v !== "all"))}`;
      else if (q) form.requestSubmit();
    }
  });
  return form;
}

function examples(models, modelName) {
  const model = models?.find((m) => (modelName ? m.name === modelName : m.default));
  const hint = model?.text_search === "classes"
    ? `${model.name} reads text as ImageNet concepts:`
    : "Try:";
  return h("div", { class: "examples" }, h("span", { class: "muted" }, hint),
    EXAMPLES.map((q) => h("a", { class: "chip chip-link", href: `#/search?q=${encodeURIComponent(q)}` }, q)));
}

/** One page of hits for the state; throws ApiError. */
function fetchHits(state, offset, signal) {
  const common = { model: state.model || null, limit: LIMIT, offset };
  if (state.mode === "text") return api("/search/text", { params: { ...common, q: state.q, kind: state.kind || "all" }, signal });
  if (state.mode === "similar") {
    const [kind, id] = state.similar.split(":");
    return api("/search/similar", { params: { ...common, id, kind, within: state.kind || "all" }, signal });
  }
  const body = new FormData();
  body.append("file", queryImage, queryImage.name || "query");
  return api("/search/image", { method: "POST", body, params: { ...common, kind: state.kind || "all" }, signal });
}

function describe(state) {
  if (state.mode === "text") return h("span", {}, "for ", h("q", {}, state.q));
  if (state.mode === "image") return h("span", {}, "like ", h("span", { class: "mono" }, queryImage?.name || "the image"));
  const [kind, id] = state.similar.split(":");
  return h("span", { class: "similar-ref" }, "like ",
    lazyImg(imageUrl(kind, id), "", { eager: true, className: "ref-thumb" }),
    state.ref ? h("span", { class: "mono" }, state.ref) : kind === "frame" ? `keyframe ${id}` : `product photo ${id}`);
}

function hintFor(err, state) {
  if (err.code === "no_matching_class") return "Text search on this model maps words to ImageNet concepts (objects and animals, e.g. “cup of coffee”, “cat”, “running shoe”); brand names and SKUs mean nothing to it.";
  if (err.code === "not_an_image" || err.code === "bad_image") return "Choose a JPEG, PNG or WebP image.";
  if (err.status === 0) return null;
  if (state.mode === "similar" && /vector/.test(err.detail || "")) return "The item may still be indexing.";
  return null;
}

async function runSearch(resultsEl, state, signal) {
  const status = h("p", { class: "results-summary", role: "status", "aria-live": "polite" }, "Searching…");
  const classesEl = h("div", { class: "chips", "aria-label": "Concepts the query maps to" });
  const grid = h("ul", { class: "grid results-grid", id: "search-results", "aria-label": "Search results" });
  mount(resultsEl, status, classesEl, skeletonGrid(8));
  let hits;
  const started = performance.now();
  try {
    hits = await fetchHits(state, 0, signal);
  } catch (err) {
    if (err.name === "AbortError") return;
    mount(resultsEl, errorBox(err, { hint: hintFor(err, state) }));
    return;
  }
  const ms = Math.round(performance.now() - started);
  mount(resultsEl, status, classesEl, grid);
  if (state.mode === "text") {
    api("/search/text/classes", { params: { q: state.q, model: state.model || null }, signal }).then((classes) => {
      if (classes?.length) mount(classesEl, h("span", { class: "muted" }, "Concepts:"), classes.map((c) => h("span", { class: "chip", title: `weight ${c.weight.toFixed(2)}` }, c.name)));
    }).catch(() => {});
  }
  if (!hits.length) {
    mount(resultsEl, emptyState("Nothing found", state.mode === "text" ? "No indexed image shows that." : "Nothing indexed looks like it yet.", "search"));
    return;
  }
  status.replaceChildren(`${hits.length === LIMIT ? `Top ${LIMIT}` : plural(hits.length, "result")} `, describe(state), h("span", { class: "muted" }, ` · ${ms} ms`));
  grid.append(...hits.map(hitCard));
  let offset = hits.length;
  if (hits.length === LIMIT) {
    const more = h("button", { type: "button", class: "btn more-btn" }, "Load more");
    more.addEventListener("click", async () => {
      more.disabled = true;
      more.textContent = "Loading…";
      try {
        const next = await fetchHits(state, offset, signal);
        grid.append(...next.map(hitCard));
        offset += next.length;
        status.replaceChildren(`${plural(offset, "result")} `, describe(state));
        if (next.length < LIMIT || offset + LIMIT > MAX_WINDOW) more.remove();
        else {
          more.disabled = false;
          more.textContent = "Load more";
        }
      } catch (err) {
        if (err.name === "AbortError") return;
        more.replaceWith(errorBox(err));
      }
    });
    resultsEl.append(more);
  }
}

export async function searchView(main, params, signal) {
  const models = await modelsList();
  const render = (state) => {
    const resultsEl = h("section", { class: "results", "aria-label": "Results" });
    mount(main,
      pageHeader("Search", { subtitle: "Find product photos and video keyframes by words, by an image, or by example." }),
      searchPanel(state, models, (next) => render(next)),
      state.mode ? null : examples(models, state.model),
      resultsEl);
    if (state.mode) runSearch(resultsEl, state, signal);
    else mount(resultsEl, emptyState("Search the catalog and the videos", "Type what you are looking for, or drop a photo on the search box.", "search"));
  };
  const q = params.get("q");
  const similar = params.get("similar");
  const base = { kind: params.get("kind") || "all", model: params.get("model") || "" };
  if (q) render({ ...base, mode: "text", q });
  else if (similar && /^(product_image|frame):\d+$/.test(similar)) render({ ...base, mode: "similar", similar, ref: params.get("ref") || "" });
  else if (queryImage) render({ ...base, mode: "image" });
  else render(base);
}
