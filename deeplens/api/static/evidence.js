// The evidence viewer: one appearance — the side-by-side evidence image, score, times,
// the best frame with its box — in a modal dialog that can be linked to (?appearance=ID).

import { api, download, evidenceUrl, imageUrl, loadImage } from "./api.js";
import { h, mount, fmtTime, fmtDuration, fmtInt, scoreMeter } from "./dom.js";
import { icon, errorBox, loading } from "./ui.js";

let dialog;
let onClose = null;

function ensureDialog() {
  if (dialog) return dialog;
  dialog = document.getElementById("evidence-dialog");
  dialog.addEventListener("close", () => {
    const done = onClose;
    onClose = null;
    done?.();
  });
  // A click on the backdrop (outside the panel) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  return dialog;
}

/** The best frame with the appearance's box drawn over it (box in frame pixels). */
function framePreview(appearance) {
  const box = h("div", { class: "frame-box", hidden: true, "aria-hidden": "true" });
  const img = h("img", {
    alt: `Best keyframe of ${appearance.product} in ${appearance.video}, the product outlined`,
    decoding: "async",
  });
  img.addEventListener("load", () => {
    const [x, y, w, hgt] = appearance.box || [];
    const W = img.naturalWidth;
    const H = img.naturalHeight;
    if (!W || !H || w === undefined) return;
    Object.assign(box.style, { left: `${(x / W) * 100}%`, top: `${(y / H) * 100}%`, width: `${(w / W) * 100}%`, height: `${(hgt / H) * 100}%` });
    box.hidden = false;
  });
  img.addEventListener("error", () => img.closest(".frame-preview")?.remove(), { once: true });
  loadImage(img, imageUrl("frame", appearance.best_frame_id, false));
  return h("figure", { class: "frame-preview" }, h("div", { class: "frame-wrap" }, img, box),
    h("figcaption", {}, "Best keyframe, the product's box outlined"));
}

function facts(a) {
  const row = (term, ...desc) => [h("dt", {}, term), h("dd", {}, ...desc)];
  return h("dl", { class: "facts" },
    row("Score", scoreMeter(a.score)),
    row("Product", h("a", { href: `#/products/${encodeURIComponent(a.product)}` }, a.product)),
    row("Video", h("a", { href: `#/videos/${encodeURIComponent(a.video)}` }, a.video)),
    row("From", h("span", { class: "mono" }, fmtTime(a.start))),
    row("To", h("span", { class: "mono" }, fmtTime(a.end))),
    row("On screen", fmtDuration(Math.max(0, a.end - a.start))),
    row("Keyframes", fmtInt(a.frames)),
    row("Box", h("span", { class: "mono", title: "x, y, width, height in frame pixels" }, (a.box || []).join(", "))),
  );
}

function render(a) {
  const title = h("h2", { id: "evidence-title" }, a.product, h("span", { class: "muted" }, " in "), a.video);
  let figure;
  if (a.evidence) {
    const img = h("img", {
      id: "evidence-image",
      class: "evidence-image",
      alt: `Evidence for ${a.product} in ${a.video}: the product photo beside the matched frame, with the outline and inlier correspondences`,
      decoding: "async",
    });
    img.addEventListener("error", () => img.replaceWith(errorBox({ code: "evidence_unavailable", detail: "The evidence image could not be loaded." })), { once: true });
    loadImage(img, evidenceUrl(a.id));
    figure = h("figure", { class: "evidence-figure" }, img,
      h("figcaption", {}, "Product photo | video frame — outline and matched keypoints"));
  } else {
    figure = h("div", { class: "evidence-pending", role: "status" }, icon("clock", "icon"), "The evidence image is still being drawn; check back in a moment.");
  }
  return [
    h("header", { class: "dialog-header" },
      title,
      h("button", { class: "icon-btn", type: "button", "aria-label": "Close evidence viewer", onclick: () => dialog.close() }, icon("close"))),
    h("div", { class: "dialog-body" },
      h("div", { class: "evidence-main" }, figure),
      h("aside", { class: "evidence-side", "aria-label": "Appearance details" },
        facts(a),
        framePreview(a),
        h("div", { class: "evidence-actions" },
          h("a", { class: "btn btn-ghost", href: `#/search?similar=frame:${a.best_frame_id}&kind=products&ref=${encodeURIComponent(`${a.product} in ${a.video}`)}` }, icon("similar"), "Products like this frame"),
          a.evidence ? h("button", { class: "btn btn-ghost", type: "button", onclick: () => download(evidenceUrl(a.id), `evidence-${a.id}.jpg`) }, icon("download"), "Download evidence") : null))),
  ];
}

/**
 * Open the viewer for an appearance (object, or id to fetch). `closed()` is called when it closes.
 */
export async function openEvidence(appearance, { closed } = {}) {
  const d = ensureDialog();
  onClose = closed || null;
  if (typeof appearance === "string") {
    mount(d, h("div", { class: "dialog-body" }, loading("Loading appearance…")));
    if (!d.open) d.showModal();
    try {
      appearance = await api(`/appearances/${encodeURIComponent(appearance)}`);
    } catch (err) {
      mount(d, h("header", { class: "dialog-header" }, h("h2", { id: "evidence-title" }, "Appearance"),
        h("button", { class: "icon-btn", type: "button", "aria-label": "Close evidence viewer", onclick: () => d.close() }, icon("close"))),
      h("div", { class: "dialog-body" }, errorBox(err)));
      return;
    }
  }
  mount(d, ...render(appearance));
  if (!d.open) d.showModal();
}
