// Failures: uploads a step could not process, and why; and events waiting in the dead-letter store.

import { api } from "./api.js";
import { h, mount, fmtWhen, humanize } from "./dom.js";
import { pageHeader, pager, errorBox, emptyState, loading } from "./ui.js";

const PAGE = 50;

function failureTable(items) {
  return h("div", { class: "table-wrap" }, h("table", { class: "table", id: "failures-table" },
    h("caption", { class: "sr-only" }, "Uploads that could not be processed"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "When"),
      h("th", { scope: "col" }, "Object"),
      h("th", { scope: "col" }, "Step"),
      h("th", { scope: "col" }, "Reason"),
      h("th", { scope: "col" }, "Message"))),
    h("tbody", {}, items.map((f) => h("tr", {},
      h("td", { class: "nowrap" }, fmtWhen(f.at)),
      h("td", { class: "mono break" }, f.key),
      h("td", {}, f.step),
      h("td", {}, h("span", { class: "badge badge-bad", title: f.reason }, humanize(f.reason))),
      h("td", { class: "message" }, f.message))))));
}

function deadLetterTable(items) {
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("caption", { class: "sr-only" }, "Events that failed every retry"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "When"),
      h("th", { scope: "col" }, "Step"),
      h("th", { scope: "col" }, "Event"),
      h("th", { scope: "col", class: "num" }, "Attempts"),
      h("th", { scope: "col" }, "Error"),
      h("th", { scope: "col" }, "Replayed"))),
    h("tbody", {}, items.map((d) => h("tr", {},
      h("td", { class: "nowrap" }, fmtWhen(d.created_at)),
      h("td", {}, d.subscriber),
      h("td", { class: "mono break" }, d.event?.type ?? "", h("br"), h("span", { class: "muted" }, d.event?.subject ?? d.event?.id ?? "")),
      h("td", { class: "num" }, String(d.attempts)),
      h("td", { class: "message" }, d.error),
      h("td", { class: "nowrap" }, d.replayed_at ? fmtWhen(d.replayed_at) : "–"))))));
}

export async function failuresView(main, params, signal) {
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const header = (subtitle) => pageHeader("Failures", { subtitle });
  mount(main, header("Uploads that could not be processed, and why."), loading());
  let page;
  try {
    page = await api("/failures", { params: { limit: PAGE, offset }, signal });
  } catch (err) {
    if (err.name === "AbortError") return;
    mount(main, header(), errorBox(err));
    return;
  }
  const dead = h("section", { class: "dead-letters", "aria-labelledby": "dlq-title" });
  mount(main,
    header(page.total ? `${page.total.toLocaleString()} upload${page.total === 1 ? "" : "s"} could not be processed. Bad input is recorded here and not retried; the rest of the batch went on.` : "Uploads that could not be processed, and why."),
    page.items.length
      ? failureTable(page.items)
      : emptyState("No failures", "Every upload so far was processed.", "alert"),
    pager({ total: page.total, limit: PAGE, offset, hrefFor: (o) => `#/failures?offset=${o}`, label: "failures" }),
    dead);
  try {
    const letters = await api("/dead-letters", { signal });
    const waiting = letters.filter((d) => !d.replayed_at);
    mount(dead,
      h("h2", { class: "section-title", id: "dlq-title" }, "Dead letters"),
      h("p", { class: "muted" }, letters.length
        ? `${waiting.length} event${waiting.length === 1 ? "" : "s"} failed every retry and wait for replay (\`deeplens dlq replay\`).`
        : "No event failed every retry."),
      letters.length ? deadLetterTable(letters.slice(0, 200)) : null);
  } catch (err) {
    if (err.name === "AbortError") return;
    dead.remove(); // a service without a delivery queue has no dead letters to show
  }
}
