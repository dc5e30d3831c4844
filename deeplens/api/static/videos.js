// Videos: a paginated list, and one video with its appearance timeline (one lane per product).

import { api, allPages, imageUrl, productPhotos, videoPosters } from "./api.js";
import { h, mount, lazyImg, placeholder, plural, fmtTime, fmtScore, scoreColour } from "./dom.js";
import { openEvidence } from "./evidence.js";
import { appearanceTable } from "./products.js";
import { pageHeader, pager, errorBox, emptyState, skeletonGrid, loading, icon } from "./ui.js";

const PAGE = 24;
const FILMSTRIP = 12;

const offsetOf = (params) => Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);

function videoCard(v, poster) {
  const media = poster
    ? lazyImg(imageUrl("frame", poster), `A keyframe of ${v.video}`, { fallback: v.video, className: "card-img" })
    : placeholder(v.video, "card-img");
  return h("a", { class: "card video-card", href: `#/videos/${encodeURIComponent(v.video)}`, "aria-label": `${v.video}: ${fmtTime(v.duration)}, ${plural(v.appearances, "appearance")}` },
    h("div", { class: "card-media wide" }, media, h("span", { class: "duration" }, fmtTime(v.duration))),
    h("div", { class: "card-body" },
      h("span", { class: "card-title mono" }, v.video),
      h("span", { class: "card-meta" },
        h("span", { class: ["badge", v.appearances ? "badge-accent" : "badge-muted"] }, plural(v.appearances, "appearance")),
        h("span", { class: "muted" }, `${v.width}×${v.height}`),
        v.keyframes !== null && v.keyframes !== undefined ? h("span", { class: "muted" }, plural(v.keyframes, "keyframe")) : null,
        v.truncated ? h("span", { class: "badge badge-warn", title: "The file ended early; the readable part was processed" }, "truncated") : null)));
}

export async function videosView(main, params, signal) {
  const offset = offsetOf(params);
  mount(main, pageHeader("Videos", { subtitle: "Processed videos; open one for its appearance timeline." }), skeletonGrid(8, "grid grid-wide"));
  let page;
  try {
    page = await api("/videos", { params: { limit: PAGE, offset }, signal });
  } catch (err) {
    if (err.name === "AbortError") return;
    mount(main, pageHeader("Videos"), errorBox(err));
    return;
  }
  const subtitle = `${plural(page.total, "video")} processed`;
  if (!page.items.length) {
    mount(main, pageHeader("Videos", { subtitle }), emptyState("No videos yet", "Upload videos to videos/<id>.mp4 in the bucket, or run `deeplens ingest DIR`.", "film"));
    return;
  }
  const posters = await videoPosters(page.items.map((v) => v.video), signal);
  mount(main,
    pageHeader("Videos", { subtitle }),
    pager({ total: page.total, limit: PAGE, offset, hrefFor: (o) => `#/videos?offset=${o}`, label: "videos", top: true }),
    h("div", { class: "grid grid-wide", id: "video-grid" }, page.items.map((v) => videoCard(v, posters.get(v.video)))),
    pager({ total: page.total, limit: PAGE, offset, hrefFor: (o) => `#/videos?offset=${o}`, label: "videos" }));
}

/** Round tick spacing giving about `target` ticks over `duration` seconds. */
function tickStep(duration, target = 8) {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => duration / s <= target) || 7200;
}

function timeline(video, items, duration, onOpen) {
  const pct = (t) => `${Math.max(0, Math.min(100, (t / duration) * 100))}%`;
  const lanes = new Map();
  for (const a of items) {
    if (!lanes.has(a.product)) lanes.set(a.product, []);
    lanes.get(a.product).push(a);
  }
  const order = [...lanes.entries()].sort((x, y) => x[1][0].start - y[1][0].start || x[0].localeCompare(y[0]));

  const step = tickStep(duration, window.innerWidth < 700 ? 4 : 8);
  const ticks = [];
  for (let t = 0; t <= duration + 1e-6; t += step) ticks.push(t);
  const axis = h("div", { class: "tl-row tl-axis", "aria-hidden": "true" },
    h("div", { class: "tl-label" }),
    h("div", { class: "tl-track" }, ticks.map((t) => h("span", { class: "tl-tick", style: { left: pct(t) } }, fmtTime(t).replace(/\.0$/, "")))));

  const keyframes = video.keyframes || [];
  const marks = keyframes.length
    ? h("div", { class: "tl-row tl-keyframes", "aria-hidden": "true" },
      h("div", { class: "tl-label muted" }, "keyframes"),
      h("div", { class: "tl-track" }, keyframes.map(([, t]) => h("span", { class: "tl-kf", style: { left: pct(t) } }))))
    : null;

  const rows = order.map(([sku, apps]) => {
    const label = h("div", { class: "tl-label" },
      h("span", { class: "tl-thumb", dataset: { sku } }),
      h("a", { class: "mono", href: `#/products/${encodeURIComponent(sku)}` }, sku));
    const bars = apps.map((a) => h("button", {
      type: "button",
      class: "tl-bar",
      style: { left: pct(a.start), width: `max(8px, ${(Math.max(0, a.end - a.start) / duration) * 100}%)`, "--bar": scoreColour(a.score) },
      dataset: { appearance: a.id },
      "aria-label": `${sku} from ${fmtTime(a.start)} to ${fmtTime(a.end)}, score ${fmtScore(a.score)}: show evidence`,
      title: `${sku} · ${fmtTime(a.start)}–${fmtTime(a.end)} · score ${fmtScore(a.score)}`,
      onclick: () => onOpen(a),
    }, h("span", { class: "tl-bar-label", "aria-hidden": "true" }, fmtScore(a.score))));
    return h("div", { class: "tl-row", role: "listitem" }, label, h("div", { class: "tl-track tl-lane" }, ticks.map((t) => h("span", { class: "tl-grid", style: { left: pct(t) } })), bars));
  });

  return h("section", { class: "timeline", "aria-labelledby": "timeline-title" },
    h("div", { class: "section-head" },
      h("h2", { class: "section-title", id: "timeline-title" }, "Appearance timeline"),
      h("span", { class: "legend", "aria-hidden": "true" }, "score", h("span", { class: "legend-ramp" }), "weak → strong")),
    h("div", { class: "tl", role: "list", "aria-label": `Products over the ${fmtTime(duration)} of ${video.video}` }, axis, marks, rows));
}

function filmstrip(video) {
  const frames = video.keyframes || [];
  if (!frames.length) return null;
  const n = Math.min(FILMSTRIP, frames.length);
  const picks = Array.from({ length: n }, (_, i) => frames[Math.round((i * (frames.length - 1)) / Math.max(1, n - 1))]);
  return h("ol", { class: "filmstrip", "aria-label": "Keyframes across the video" }, picks.map(([id, t]) =>
    h("li", {}, h("a", { href: `#/search?similar=frame:${id}&kind=products&ref=${encodeURIComponent(`${video.video} @ ${fmtTime(t)}`)}`, title: `Products like the frame at ${fmtTime(t)}` },
      lazyImg(imageUrl("frame", id), `Keyframe at ${fmtTime(t)}`, { fallback: fmtTime(t) }),
      h("span", { class: "filmstrip-t" }, fmtTime(t))))));
}

async function fillLaneThumbs(root, signal) {
  const spans = [...root.querySelectorAll(".tl-thumb[data-sku]")];
  if (!spans.length) return;
  const photos = await productPhotos([...new Set(spans.map((s) => s.dataset.sku))], signal).catch(() => new Map());
  for (const span of spans) {
    const id = photos.get(span.dataset.sku)?.[0];
    if (id) span.append(lazyImg(imageUrl("product_image", id), "", { fallback: "" }));
  }
}

export async function videoView(main, videoId, params, signal) {
  const back = { href: "#/videos", label: "Videos" };
  mount(main, pageHeader(videoId, { back }), loading("Loading the timeline…"));
  let info;
  let apps;
  try {
    [info, apps] = await Promise.all([
      api(`/gallery/videos/${encodeURIComponent(videoId)}`, { signal }).catch((err) => {
        if (err.name === "AbortError" || err.code === "not_found") throw err;
        return null; // the look-up is missing: fall back to what the appearances say
      }),
      allPages("/appearances", { video: videoId }, { signal }),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return;
    mount(main, pageHeader(videoId, { back }), errorBox(err));
    return;
  }
  const items = apps.items;
  const video = info || { video: videoId, keyframes: [] };
  const duration = Math.max(info?.duration || 0, ...items.map((a) => a.end), 0.001);
  const open = (a) => {
    history.replaceState(null, "", `#/videos/${encodeURIComponent(videoId)}?appearance=${encodeURIComponent(a.id)}`);
    openEvidence(a, { closed: () => history.replaceState(null, "", `#/videos/${encodeURIComponent(videoId)}`) });
  };
  const bits = [fmtTime(duration), plural(items.length, "appearance"), plural(new Set(items.map((a) => a.product)).size, "product")];
  if (info) bits.push(`${info.width}×${info.height} @ ${Math.round(info.fps * 100) / 100} fps`);
  mount(main,
    pageHeader(videoId, { back, subtitle: bits.join(" · ") }),
    filmstrip(video),
    items.length
      ? timeline(video, items, duration, open)
      : emptyState("No products found in this video", "None of the catalog's products were matched in its keyframes.", "film"),
    items.length ? h("h2", { class: "section-title" }, "All appearances") : null,
    items.length ? appearanceTable(items, { show: "product", onOpen: open }) : null,
    apps.total > items.length ? h("p", { class: "muted" }, `Showing the first ${items.length} of ${apps.total}.`) : null);
  fillLaneThumbs(main, signal);
  const wanted = params.get("appearance");
  if (wanted) {
    const found = items.find((a) => a.id === wanted);
    openEvidence(found || wanted, { closed: () => history.replaceState(null, "", `#/videos/${encodeURIComponent(videoId)}`) });
  }
}
