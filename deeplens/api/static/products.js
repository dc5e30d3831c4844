// Products: a paginated grid of product photos, and one product with its appearances.

import { api, imageUrl, productPhotos } from "./api.js";
import { h, mount, lazyImg, placeholder, plural, fmtTime, fmtDuration, scoreMeter } from "./dom.js";
import { openEvidence } from "./evidence.js";
import { pageHeader, pager, errorBox, emptyState, skeletonGrid, icon } from "./ui.js";

const PAGE = 48;
const APPEARANCES_PAGE = 50;

const offsetOf = (params) => Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);

function productCard(product, photoIds) {
  const first = photoIds?.[0];
  const media = first
    ? lazyImg(imageUrl("product_image", first), `Photo of ${product.sku}`, { fallback: product.sku, className: "card-img" })
    : placeholder(product.sku, "card-img");
  const found = product.appearances > 0;
  return h("a", { class: "card product-card", href: `#/products/${encodeURIComponent(product.sku)}`, "aria-label": `${product.sku}: ${plural(product.appearances, "appearance")}, ${plural(product.images, "photo")}` },
    h("div", { class: "card-media" }, media),
    h("div", { class: "card-body" },
      h("span", { class: "card-title mono" }, product.sku),
      h("span", { class: "card-meta" },
        h("span", { class: ["badge", found ? "badge-accent" : "badge-muted"] }, plural(product.appearances, "appearance")),
        h("span", { class: "muted" }, plural(product.images, "photo")))));
}

export async function productsView(main, params, signal) {
  const offset = offsetOf(params);
  mount(main, pageHeader("Products", { subtitle: "The catalog, with where each product was found." }), skeletonGrid(12));
  let page;
  try {
    page = await api("/products", { params: { limit: PAGE, offset }, signal });
  } catch (err) {
    if (err.name === "AbortError") return;
    mount(main, pageHeader("Products"), errorBox(err));
    return;
  }
  const subtitle = `${plural(page.total, "product")} in the catalog`;
  if (!page.items.length) {
    mount(main, pageHeader("Products", { subtitle }), emptyState(offset ? "No products on this page" : "No products yet",
      offset ? h("a", { href: "#/products" }, "Back to the first page") : "Upload photos to products/<sku>/ in the bucket, or run `deeplens ingest DIR`.", "box"));
    return;
  }
  const photos = await productPhotos(page.items.map((p) => p.sku), signal);
  const hrefFor = (o) => `#/products?offset=${o}`;
  mount(main,
    pageHeader("Products", { subtitle }),
    pager({ total: page.total, limit: PAGE, offset, hrefFor, label: "products", top: true }),
    h("div", { class: "grid", id: "product-grid" }, page.items.map((p) => productCard(p, photos.get(p.sku)))),
    pager({ total: page.total, limit: PAGE, offset, hrefFor, label: "products" }));
}

/** A table of appearances; `show` picks the columns ("video" or "product"). */
export function appearanceTable(items, { show = "video", onOpen } = {}) {
  const head = h("tr", {},
    h("th", { scope: "col" }, show === "video" ? "Video" : "Product"),
    h("th", { scope: "col" }, "From – to"),
    h("th", { scope: "col" }, "On screen"),
    h("th", { scope: "col" }, "Score"),
    h("th", { scope: "col", class: "num" }, "Keyframes"),
    h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Evidence")));
  const rows = items.map((a) => {
    const ref = show === "video"
      ? h("a", { href: `#/videos/${encodeURIComponent(a.video)}?appearance=${encodeURIComponent(a.id)}` }, a.video)
      : h("a", { href: `#/products/${encodeURIComponent(a.product)}` }, a.product);
    return h("tr", { dataset: { appearance: a.id } },
      h("td", { class: "mono" }, ref),
      h("td", { class: "mono nowrap" }, `${fmtTime(a.start)} – ${fmtTime(a.end)}`),
      h("td", {}, fmtDuration(Math.max(0, a.end - a.start))),
      h("td", {}, scoreMeter(a.score)),
      h("td", { class: "num" }, String(a.frames)),
      h("td", { class: "row-action" },
        h("button", { class: "btn btn-small", type: "button", onclick: () => onOpen(a), "aria-label": `Show evidence of ${a.product} in ${a.video} at ${fmtTime(a.start)}` }, icon("lens"), "Evidence")));
  });
  return h("div", { class: "table-wrap" }, h("table", { class: "table" }, h("thead", {}, head), h("tbody", {}, rows)));
}

export async function productView(main, sku, params, signal) {
  const offset = offsetOf(params);
  const back = { href: "#/products", label: "Products" };
  mount(main, pageHeader(sku, { back }), skeletonGrid(4, "photo-row"));
  let page;
  let photos;
  try {
    [page, photos] = await Promise.all([
      api("/appearances", { params: { product: sku, limit: APPEARANCES_PAGE, offset }, signal }),
      productPhotos([sku], signal),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return;
    mount(main, pageHeader(sku, { back }), errorBox(err));
    return;
  }
  const ids = photos.get(sku) || [];
  const photoRow = ids.length
    ? h("ul", { class: "photo-row", "aria-label": `Photos of ${sku}` }, ids.map((id, i) =>
      h("li", { class: "photo" },
        lazyImg(imageUrl("product_image", id), `Photo ${i + 1} of ${sku}`, { fallback: sku, eager: true }),
        h("a", { class: "btn btn-small btn-overlay", href: `#/search?similar=product_image:${id}&kind=frames&ref=${encodeURIComponent(sku)}` }, icon("similar"), "Find in videos"))))
    : null;
  const subtitle = `${plural(page.total, "appearance")} in videos · ${plural(ids.length, "photo")}`;
  const hrefFor = (o) => `#/products/${encodeURIComponent(sku)}?offset=${o}`;
  mount(main,
    pageHeader(sku, { back, subtitle, actions: ids.length ? h("a", { class: "btn", href: `#/search?similar=product_image:${ids[0]}&kind=products&ref=${encodeURIComponent(sku)}` }, icon("similar"), "Similar products") : null }),
    photoRow,
    h("h2", { class: "section-title" }, "Appearances"),
    page.items.length
      ? appearanceTable(page.items, { show: "video", onOpen: (a) => openEvidence(a) })
      : emptyState("Not found in any video", "No video processed so far shows this product.", "film"),
    pager({ total: page.total, limit: APPEARANCES_PAGE, offset, hrefFor, label: "appearances" }));
}
