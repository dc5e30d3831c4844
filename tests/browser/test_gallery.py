"""The web gallery in a real headless Chromium, against the real results service.

A tiny generated dataset is processed by the in-process pipeline, the results service is
served by uvicorn on a loopback port, and Debian's ``chromium`` (driven by Playwright with
``executable_path``; Playwright's own browser download is never used) browses it: the
products grid, a text search (one that names no class, shown as a clear error, and one
that finds images), an image search by upload, "more like this", a video's appearance
timeline and an appearance's evidence, and the failures table. Screenshots of each step
land in ``test-artifacts/browser/``.
"""

from __future__ import annotations

import base64
import mimetypes
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing (pip install playwright)")

import uvicorn

from deeplens.api import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Queries the default model's class-based text search may answer on packaging-like artwork.
TEXT_QUERIES = ("packet", "carton", "envelope", "comic book", "menu", "web site")
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def processed(process_tiny_dataset):
    """A tiny dataset (plus one empty video, a recorded failure) through the whole pipeline."""
    with process_tiny_dataset("gallery", seed=11, with_empty_video=True) as processed:
        yield processed


@pytest.fixture(scope="module")
def base_url(processed):
    """The results service (API + gallery) served by uvicorn on a free loopback port."""
    runtime, _, _ = processed
    app = create_app(runtime.services, runtime.queue)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the results service did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    # The first text query embeds the model's class texts (about 20 s on a quiet core, more on
    # a busy machine, then cached): done here, so no page waits on it within TIMEOUT_MS.
    httpx.get(f"{url}/search/text/classes", params={"q": "coffee mug"}, timeout=300).raise_for_status()
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(request, browser, base_url):
    """A fresh page that fails the test on any uncaught script error (a failed test leaves a screenshot and its console)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = f"FAILED-{request.node.name}"
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.console.txt").write_text("\n".join([f"url: {page.url}", *console, *errors]) + "\n")
    context.close()
    assert not errors, f"script errors in the gallery: {errors}"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def loaded(locator) -> bool:
    """Whether an <img> finished loading real pixels."""
    return locator.evaluate("img => img.complete && img.naturalWidth > 0")


def wait_loaded(page, selector: str) -> None:
    page.wait_for_function(
        "sel => { const img = document.querySelector(sel); return img && img.complete && img.naturalWidth > 0; }",
        arg=selector, timeout=TIMEOUT_MS,
    )


def test_the_gallery_lists_the_products_with_their_photos(page, processed):
    _, truth, _ = processed
    page.goto("/")
    cards = page.locator("#product-grid .product-card")
    cards.first.wait_for()
    # The page may render again while it settles: wait until the titles are the catalog's.
    page.wait_for_function(
        "skus => JSON.stringify([...document.querySelectorAll('#product-grid .product-card .card-title')]"
        ".map(e => e.textContent).sort()) === JSON.stringify(skus)",
        arg=sorted(truth.products), timeout=TIMEOUT_MS,
    )
    assert cards.count() == len(truth.products)
    wait_loaded(page, "#product-grid .product-card img")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Products"
    shot(page, "01-products")


def test_a_product_lists_its_appearances(page, processed, base_url):
    _, _truth, _ = processed
    found = httpx.get(f"{base_url}/appearances").json()["items"]
    sku = found[0]["product"]
    page.goto("/#/products")
    page.locator("#product-grid .product-card", has_text=sku).click()
    page.locator("table tbody tr").first.wait_for()
    assert page.locator("h1").inner_text() == sku
    assert page.locator("table tbody tr").count() == sum(1 for a in found if a["product"] == sku)
    wait_loaded(page, ".photo-row img")
    shot(page, "02-product")


def test_a_text_query_that_names_no_class_is_shown_as_a_clear_error(page):
    page.goto("/#/search")
    page.get_by_label("Search text").fill("xyzzy")
    page.get_by_label("Search text").press("Enter")
    error = page.locator(".results .error-box")
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    assert "No matching class" in error.inner_text()
    assert "nearest" in error.inner_text()  # the API's detail, shown as it came
    shot(page, "03-text-search-error")


def text_hits(base_url: str, query: str) -> list[dict]:
    response = httpx.get(f"{base_url}/search/text", params={"q": query, "limit": 24}, timeout=60)
    return response.json() if response.status_code == 200 else []


def test_a_text_search_finds_images(page, base_url):
    query, expected = next(((q, hits) for q in TEXT_QUERIES if (hits := text_hits(base_url, q))), (None, []))
    assert query, f"none of {TEXT_QUERIES} finds anything in the tiny dataset"
    page.goto("/#/search")
    page.get_by_label("Search text").fill(query)
    page.get_by_role("button", name="Search", exact=True).click()
    hits = page.locator("#search-results .hit-card")
    hits.first.wait_for()
    assert f"q={query.replace(' ', '+')}" in page.url
    assert hits.count() == len(expected)
    assert hits.first.get_attribute("data-id") == str(expected[0]["id"])
    assert expected[0]["classes"][0] in hits.first.locator(".chips").inner_text()  # the class the hit shows
    wait_loaded(page, "#search-results .hit-card img")
    shot(page, "04-text-search")


def test_an_image_search_by_upload_finds_that_product_first(page, processed):
    _, truth, data = processed
    sku = min(truth.products)
    photo = data / "products" / sku / truth.products[sku].photos[0]
    page.goto("/#/search")
    page.locator("#search-file").set_input_files(str(photo))
    hits = page.locator("#search-results .hit-card")
    hits.first.wait_for()
    first = hits.first
    assert first.get_attribute("data-kind") == "product_image"
    assert first.get_attribute("data-product") == sku
    assert page.locator(".query-image img").is_visible()
    wait_loaded(page, "#search-results .hit-card img")
    shot(page, "05-image-search")

    # "More like this" on the second hit: a new ranking, led by a reference to it.
    second = hits.nth(1)
    ref_id = second.get_attribute("data-id")
    second.get_by_role("link", name="More like this").click()
    page.wait_for_url(lambda u: f"%3A{ref_id}&" in u or u.endswith(f"%3A{ref_id}"))
    page.locator("#search-results .hit-card").first.wait_for()
    assert ref_id not in [c.get_attribute("data-id") for c in page.locator("#search-results .hit-card").all()
                          if c.get_attribute("data-kind") == second.get_attribute("data-kind")]
    shot(page, "06-more-like-this")


DROP = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  const panel = document.querySelector(".search-panel");
  panel.dispatchEvent(new DragEvent("dragenter", { dataTransfer: data, bubbles: true, cancelable: true }));
  window.__drop = () => panel.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""


def test_an_image_dropped_on_the_search_box_finds_that_product_first(page, processed):
    _, truth, data = processed
    sku = max(truth.products)
    photo = data / "products" / sku / truth.products[sku].photos[-1]
    page.goto("/#/search")
    page.locator(".search-panel").wait_for()
    page.evaluate(DROP, [base64.b64encode(photo.read_bytes()).decode(), photo.name, mimetypes.guess_type(photo.name)[0]])
    assert "dragging" in page.locator(".search-panel").get_attribute("class")  # the drop target lights up
    shot(page, "06a-drop-target")
    page.evaluate("window.__drop()")
    first = page.locator("#search-results .hit-card").first
    first.wait_for()
    assert (first.get_attribute("data-kind"), first.get_attribute("data-product")) == ("product_image", sku)


def test_uploading_a_file_that_is_not_an_image_shows_the_apis_error(page, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not an image")
    page.goto("/#/search")
    page.locator("#search-file").set_input_files(str(text))
    error = page.locator(".results .error-box")
    error.wait_for()
    assert "Not an image" in error.inner_text() and "HTTP 422" in error.inner_text()
    shot(page, "06b-not-an-image")


def test_a_video_timeline_opens_an_appearances_evidence(page, base_url):
    found = httpx.get(f"{base_url}/appearances").json()["items"]
    video = found[0]["video"]
    in_video = [a for a in found if a["video"] == video]
    page.goto("/#/videos")
    page.locator("#video-grid .video-card", has_text=video).click()
    bars = page.locator(".timeline .tl-bar")
    bars.first.wait_for()
    assert bars.count() == len(in_video)
    assert page.locator(".timeline .tl-row[role=listitem]").count() == len({a["product"] for a in in_video})
    shot(page, "07-video-timeline")

    bars.first.click()
    dialog = page.locator("#evidence-dialog")
    dialog.wait_for(state="visible")
    wait_loaded(page, "#evidence-image")
    assert loaded(page.locator("#evidence-image"))
    page.wait_for_function("() => location.hash.includes('appearance=')", timeout=TIMEOUT_MS)
    opened = page.url.split("appearance=")[1]
    assert opened in {a["id"] for a in in_video}
    shown = next(a for a in in_video if a["id"] == opened)
    assert shown["product"] in dialog.locator("#evidence-title").inner_text()
    assert ", ".join(map(str, shown["box"])) in dialog.inner_text()
    wait_loaded(page, ".frame-wrap img")
    page.wait_for_function("() => !document.querySelector('.frame-box').hidden")
    shot(page, "08-evidence")

    page.get_by_role("button", name="Close evidence viewer").click()
    dialog.wait_for(state="hidden")
    # The address follows the close event; wait for it rather than race it.
    page.wait_for_function("() => !location.hash.includes('appearance=')", timeout=TIMEOUT_MS)


def test_an_evidence_link_opens_the_viewer_directly(page, base_url):
    first = httpx.get(f"{base_url}/appearances").json()["items"][0]
    page.goto(f"/#/videos/{first['video']}?appearance={first['id']}")
    page.locator("#evidence-dialog").wait_for(state="visible")
    wait_loaded(page, "#evidence-image")


def test_the_failures_page_shows_the_bad_upload_and_why(page):
    page.goto("/#/failures")
    row = page.locator("#failures-table tbody tr", has_text="/empty.mp4")
    row.wait_for()
    assert "Empty" in row.inner_text() and "ingest" in row.inner_text()
    shot(page, "09-failures")


def test_an_api_error_is_shown_to_the_user(page):
    page.goto("/#/search?similar=product_image:987654321")
    error = page.locator(".results .error-box")
    error.wait_for()
    assert "Not found" in error.inner_text() and "HTTP 404" in error.inner_text()
    shot(page, "10-api-error")
