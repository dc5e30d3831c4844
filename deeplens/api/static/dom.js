// Small DOM and formatting helpers: no framework, just functions.

import { loadImage } from "./api.js";

/**
 * Create an element: h("a", {href: "#/x", class: "card", onclick: fn}, "text", child, [more]).
 * Attributes starting with "on" become listeners; `dataset` and `style` take objects;
 * null / undefined / false attributes and children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag === "svg" || attrs?.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false || name === "svg") continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    } else if (name === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's content. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** "1:02.5" from seconds (hours when needed). */
export function fmtTime(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(seconds);
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  const sec = s.toFixed(1).padStart(4, "0");
  return hours ? `${sign}${hours}:${String(minutes).padStart(2, "0")}:${sec}` : `${sign}${minutes}:${sec}`;
}

/** "2.3 s" / "1 min 4 s". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

export const fmtScore = (score) => (typeof score === "number" ? score.toFixed(3) : "–");
export const fmtInt = (n) => (typeof n === "number" ? n.toLocaleString() : "–");
export const plural = (n, one, many = `${one}s`) => `${fmtInt(n)} ${n === 1 ? one : many}`;

/** A date-time as "2 min ago" (with the full local time in a title). */
export function fmtWhen(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return h("span", {}, String(iso ?? "–"));
  const ago = (Date.now() - at.getTime()) / 1000;
  let text;
  if (ago < 45) text = "just now";
  else if (ago < 3600) text = `${Math.round(ago / 60)} min ago`;
  else if (ago < 86400) text = `${Math.round(ago / 3600)} h ago`;
  else text = at.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  return h("time", { datetime: at.toISOString(), title: at.toLocaleString() }, text);
}

/** A colour for an appearance score: amber (weak) to green (strong). */
export function scoreColour(score) {
  const t = Math.max(0, Math.min(1, (score - 0.25) / 0.65));
  return `hsl(${Math.round(28 + t * 122)} 68% 42%)`;
}

/** A score with a small meter (0–1; cosine scores below 0 show an empty meter). */
export function scoreMeter(score, { label = "Score", colour } = {}) {
  const pct = Math.max(0, Math.min(1, score ?? 0)) * 100;
  return h("span", { class: "meter", title: `${label} ${fmtScore(score)}` },
    h("span", { class: "meter-bar", "aria-hidden": "true" },
      h("span", { class: "meter-fill", style: { width: `${pct}%`, background: colour || scoreColour(score) } })),
    h("span", { class: "meter-value" }, fmtScore(score)));
}

/** The initials placeholder shown where an image is missing. */
export function placeholder(text, extraClass = "") {
  return h("div", { class: ["placeholder", extraClass], "aria-hidden": "true" }, String(text).slice(0, 10));
}

// Images are fetched (with the credential) when they come near the viewport, as loading="lazy" would.
const nearViewport = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    nearViewport.unobserve(entry.target);
    loadImage(entry.target, entry.target.dataset.src);
  }
}, { rootMargin: "200px" });

/**
 * A lazily loaded image of the service (`src` its path) that falls back to a placeholder
 * if it cannot be loaded. Thumbnails are JPEGs at most 256 px.
 */
export function lazyImg(src, alt, { fallback = "", className = "", eager = false } = {}) {
  const img = h("img", { alt, decoding: "async", class: className, "data-src": src });
  img.addEventListener("error", () => {
    img.replaceWith(placeholder(fallback || alt, className));
  }, { once: true });
  if (eager) loadImage(img, src);
  else nearViewport.observe(img);
  return img;
}

/** Human words for an API error code: "no_matching_class" → "No matching class". */
export function humanize(code) {
  const text = String(code || "error").replace(/[_-]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function svg(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}
