// Shared pieces of the gallery's views: page headers, pagers, error and empty states, icons.

import { h, humanize, fmtInt } from "./dom.js";

const ICONS = {
  box: '<path d="M21 8 12 3 3 8v8l9 5 9-5V8Z"/><path d="m3 8 9 5 9-5M12 13v8"/>',
  film: '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 4v16M17 4v16M3 9h4M3 15h4M17 9h4M17 15h4"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="m20 20-3.5-3.5"/>',
  alert: '<path d="M12 3 2 20h20L12 3Z"/><path d="M12 10v4M12 17.5v.5"/>',
  image: '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="m21 16-5-5-9 9"/>',
  upload: '<path d="M12 16V4M7 9l5-5 5 5"/><path d="M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"/>',
  similar: '<rect x="3" y="3" width="8" height="8" rx="1.5"/><rect x="13" y="13" width="8" height="8" rx="1.5"/><path d="M13 7h4a1 1 0 0 1 1 1v3M11 17H7a1 1 0 0 1-1-1v-3"/>',
  close: '<path d="M6 6l12 12M18 6 6 18"/>',
  left: '<path d="m15 18-6-6 6-6"/>',
  right: '<path d="m9 18 6-6-6-6"/>',
  clock: '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
  lens: '<circle cx="11" cy="11" r="7"/><circle cx="11" cy="11" r="3"/><path d="m20 20-3.5-3.5"/>',
  download: '<path d="M12 4v12M7 11l5 5 5-5"/><path d="M4 20h16"/>',
};

/** An inline stroke icon (decorative: hidden from assistive technology). */
export function icon(name, className = "icon") {
  const el = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  el.setAttribute("viewBox", "0 0 24 24");
  el.setAttribute("class", className);
  el.setAttribute("aria-hidden", "true");
  el.setAttribute("focusable", "false");
  el.innerHTML = ICONS[name] || "";
  return el;
}

/** The heading row of a view: title, optional subtitle and actions. */
export function pageHeader(title, { subtitle, back, actions } = {}) {
  return h("header", { class: "page-header" },
    back ? h("a", { class: "back", href: back.href }, icon("left"), back.label) : null,
    h("div", { class: "page-title-row" },
      h("div", {},
        h("h1", { id: "page-title", tabindex: "-1" }, title),
        subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
      actions ? h("div", { class: "page-actions" }, actions) : null));
}

/** An error from the API, shown where the content would be. */
export function errorBox(err, { hint } = {}) {
  const code = err?.code || err?.name || "error";
  const detail = err?.detail || err?.message || String(err);
  return h("div", { class: "error-box", role: "alert" },
    icon("alert", "icon error-icon"),
    h("div", {},
      h("p", { class: "error-title" }, humanize(code), err?.status ? h("span", { class: "error-status" }, ` · HTTP ${err.status}`) : null),
      h("p", { class: "error-detail" }, detail),
      hint ? h("p", { class: "error-hint" }, hint) : null));
}

export function emptyState(title, text, iconName = "image") {
  return h("div", { class: "empty" }, icon(iconName, "icon empty-icon"), h("p", { class: "empty-title" }, title),
    text ? h("p", { class: "empty-text" }, text) : null);
}

/** Skeleton cards while a grid loads. */
export function skeletonGrid(n = 12, className = "grid") {
  return h("div", { class: className, "aria-busy": "true", "aria-label": "Loading" },
    Array.from({ length: n }, () => h("div", { class: "card skeleton" }, h("div", { class: "card-media" }), h("div", { class: "card-body" }, h("span", { class: "sk-line" }), h("span", { class: "sk-line short" })))));
}

export function loading(text = "Loading…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/**
 * Previous / next links for a limit/offset listing. `hrefFor(offset)` builds the link of a page;
 * with `onPage(offset)` the buttons call it instead.
 */
export function pager({ total, limit, offset, hrefFor, label = "items", top = false }) {
  if (total === 1) label = label.replace(/s$/, "");
  if (!total || total <= limit) {
    return total && !top ? h("p", { class: "pager-summary" }, `${fmtInt(total)} ${label}`) : null;
  }
  const first = offset + 1;
  const last = Math.min(offset + limit, total);
  const prev = offset > 0 ? Math.max(0, offset - limit) : null;
  const next = last < total ? offset + limit : null;
  const pages = Math.ceil(total / limit);
  const current = Math.floor(offset / limit) + 1;
  const link = (target, text, rel) =>
    target === null
      ? h("span", { class: "btn btn-ghost", "aria-disabled": "true" }, text)
      : h("a", { class: "btn btn-ghost", href: hrefFor(target), rel }, text);
  return h("nav", { class: ["pager", top && "pager-top"], "aria-label": top ? "Pages (top)" : "Pages" },
    link(prev, [icon("left"), "Previous"], "prev"),
    h("span", { class: "pager-summary" }, `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(total)} ${label} · page ${current} of ${fmtInt(pages)}`),
    link(next, ["Next", icon("right")], "next"));
}
