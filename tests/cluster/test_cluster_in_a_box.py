"""The cluster in a box: every component a real process talking its real protocol.

Each step runs as its own functions-framework server, the HTTP broker routes CloudEvents
between them by the routing table (retry, backoff, dead-letter sink), a real KServe model
server embeds, moto's S3 server delivers bucket notifications into its SQS queue, an SQS
source forwards them to ingest, and PostgreSQL holds the rest. Uploads go in with boto3;
appearances come out of the results API.
"""

from __future__ import annotations

import time
from itertools import pairwise

import httpx
import psycopg
import pytest
from cluster import BUCKET, LoopbackCluster, token
from otlp_collector import OtlpCollector
from prometheus_client.parser import text_string_to_metric_families

from eventing.routing import STEPS

pytestmark = pytest.mark.cluster


def wait_for(predicate, timeout: float, what: str, components=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    logs = "\n\n".join(f"--- {c.name} ---\n{c.log_tail()}" for c in components)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from deeplens.datagen import generate_dataset

    root = tmp_path_factory.mktemp("cluster-data")
    truth = generate_dataset(root, "tiny", seed=21)
    return root, truth


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, database_url):
    # Tracing on, as the chart's tracing.endpoint turns it on; a short batch delay so spans arrive while the test waits.
    collector = OtlpCollector().start()
    # Segments of 1 s: the dataset's 3 s videos are cut in three, shared by two keyframes and two features instances.
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200",
           "DEEPLENS_RETRY": "4", "DEEPLENS_BACKOFF_DELAY": "0.25", "DEEPLENS_VIDEO_SEGMENT_SECONDS": "1"}
    replicas = {"keyframes": 2, "features": 2}
    with LoopbackCluster(database_url, tmp_path_factory.mktemp("cluster-logs"), env=env, replicas=replicas) as box:
        yield {"s3": box.s3, "components": box.components, "results": box.results, "tenant": box.tenant, "collector": collector}
    collector.stop()


def get(cluster, path: str, *, tenant: str | None = None, **kwargs) -> httpx.Response:
    """GET from the results service as the test tenant's caller (or ``tenant``'s)."""
    return httpx.get(f"{cluster['results'].url}{path}", headers=token(tenant or cluster["tenant"]), **kwargs)


def post(cluster, path: str, *, tenant: str | None = None, **kwargs) -> httpx.Response:
    """POST to the results service as the test tenant's caller (or ``tenant``'s)."""
    return httpx.post(f"{cluster['results'].url}{path}", headers=token(tenant or cluster["tenant"]), **kwargs)


def tenant_key(cluster, relative: str, tenant: str | None = None) -> str:
    """The key of a dataset file (``products/<sku>/<photo>``, ``videos/<file>``) in the test tenant's part of the bucket."""
    kind, rest = relative.split("/", 1)
    return f"{kind}/{tenant or cluster['tenant']}/{rest}"


def upload(cluster, root, relative: str, tenant: str | None = None) -> str:
    key = tenant_key(cluster, relative, tenant)
    cluster["s3"].upload_file(str(root / relative), BUCKET, key)
    return key


def appearances(cluster, tenant: str | None = None) -> list[dict]:
    return get(cluster, "/appearances", tenant=tenant).json()["items"]


def test_an_uploaded_product_and_video_yield_an_appearance_in_the_results_api(cluster, dataset):
    root, truth = dataset
    video_id, video = next((v, t) for v, t in sorted(truth.videos.items()) if t.appearances)
    sku = video.appearances[0].product
    upload(cluster, root, f"products/{sku}/{truth.products[sku].photos[0]}")
    upload(cluster, root, f"videos/{video_id}.mp4")
    found = wait_for(
        lambda: [a for a in appearances(cluster) if (a["video"], a["product"]) == (video_id, sku) and a["evidence"]],
        180, "the appearance with evidence", cluster["components"].values(),
    )
    assert abs(found[0]["start"] - video.appearances[0].start) <= 1.0


def test_one_uploaded_videos_trace_spans_every_step_across_the_processes(cluster, dataset):
    root, truth = dataset
    video_id, video = next((v, t) for v, t in sorted(truth.videos.items()) if t.appearances)
    sku = video.appearances[0].product
    upload(cluster, root, f"products/{sku}/{truth.products[sku].photos[0]}")
    key = upload(cluster, root, f"videos/{video_id}.mp4")
    wait_for(lambda: any((a["video"], a["product"]) == (video_id, sku) and a["evidence"] for a in appearances(cluster)),
             180, "the appearance with evidence", cluster["components"].values())

    def video_trace():
        spans = cluster["collector"].spans()
        roots = [s for s in spans if s.name == "step ingest" and s.attributes.get("deeplens.key") == key]
        if not roots:
            return None
        trace = [s for s in spans if s.trace_id == roots[0].trace_id]
        by_id = {s.span_id: s for s in trace}

        def reaches_a_step(span) -> bool:
            parent = by_id.get(span.parent_id)
            while parent is not None and not parent.name.startswith("step "):
                parent = by_id.get(parent.parent_id)
            return parent is not None

        # Each process exports its spans in batches of its own: a step's span may arrive
        # before the broker's spans that link it to the step before.
        steps = [s for s in trace if s.name.startswith("step ")]
        complete = {f"step {step}" for step in STEPS} <= {s.name for s in steps} and all(
            reaches_a_step(s) for s in steps if s.name != "step ingest")
        return trace if complete else None

    trace = wait_for(video_trace, 30, f"spans of every step in {key}'s trace", cluster["components"].values())
    # Each step's span was exported by that step's own process, and is a child of the broker's
    # delivery to it, itself a descendant of the step before.
    services = {s.name.removeprefix("step "): s.service for s in trace if s.name.startswith("step ")}
    assert services == {step: f"deeplens-{step}" for step in STEPS}
    by_id = {s.span_id: s for s in trace}
    for earlier, later in pairwise(STEPS):
        span = next(s for s in trace if s.name == f"step {later}")
        delivery = by_id[span.parent_id]
        assert (delivery.name, delivery.service, delivery.attributes["deeplens.subscriber"]) == ("broker deliver", "deeplens-broker", later)
        ancestor = by_id.get(delivery.parent_id)
        while ancestor is not None and not ancestor.name.startswith("step "):
            ancestor = by_id.get(ancestor.parent_id)
        assert ancestor is not None and ancestor.name == f"step {earlier}", (later, ancestor)
    names = {s.name for s in trace}
    assert {"db.query", "store.get", "predictor.infer"} <= names


def test_the_results_service_records_a_span_per_request_named_by_its_route_in_the_callers_trace(cluster):
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = httpx.get(f"{cluster['results'].url}/status/videos/{cluster['tenant']}/none.mp4",
                         headers={**token(cluster["tenant"]), "traceparent": caller})
    assert response.status_code == 404

    def in_callers_trace():
        return [s for s in cluster["collector"].spans() if s.trace_id == "0af7651916cd43dd8448eb211c80319c"]

    spans = wait_for(lambda: (found := in_callers_trace()) and any(s.parent_id == "b7ad6b7169203331" for s in found) and found,
                     30, "the results service's span", [cluster["results"]])
    # FastAPI's own server span (it traces through the provider the service installs), and inside it the queries.
    (request,) = [s for s in spans if s.parent_id == "b7ad6b7169203331"]
    assert (request.service, request.attributes["http.route"]) == ("deeplens-results", "/status/{key}")
    assert "db.query" in {s.name for s in spans}


def processed(component, step: str, event_type: str) -> float:
    """How many events of ``event_type`` this one instance of ``step`` completed, from its own /metrics."""
    families = text_string_to_metric_families(httpx.get(f"{component.url}/metrics").text)
    return sum(sample.value for family in families if family.name == "deeplens_events_processed"
               for sample in family.samples
               if sample.name.endswith("_total") and sample.labels == {"step": step, "type": event_type})


def test_segments_of_one_video_are_scanned_by_both_keyframes_instances_and_indexed_by_both_features_instances(cluster, dataset):
    root, truth = dataset
    components = cluster["components"]
    before = {name: processed(components[name], step, kind) for name, step, kind in INSTANCES}
    # A name no other test uploads, so its scan is new work.
    key = tenant_key(cluster, "videos/segmented.mp4")
    cluster["s3"].upload_file(str(root / f"videos/{min(truth.videos)}.mp4"), BUCKET, key)

    def gained() -> dict[str, float]:
        return {name: processed(components[name], step, kind) - before[name] for name, step, kind in INSTANCES}

    # The 3 s video is three segments of 1 s; waited for by the instances' own counts (the
    # status API cannot tell work not yet announced from work done).
    work = wait_for(lambda: (g := gained())["keyframes"] + g["keyframes-2"] == 3 and g["features"] and g["features-2"] and g,
                    180, f"{key}'s segments scanned and indexed", components.values())
    assert all(count > 0 for count in work.values()), work  # every instance did part of the one video


INSTANCES = (
    ("keyframes", "keyframes", "dev.deeplens.video.segment"),
    ("keyframes-2", "keyframes", "dev.deeplens.video.segment"),
    ("features", "features", "dev.deeplens.frames.extracted"),
    ("features-2", "features", "dev.deeplens.frames.extracted"),
)


def test_text_search_ranks_photos_by_the_class_probabilities_the_model_server_gave(cluster):
    pytest.importorskip("skimage", reason="scikit-image provides the sample photo")
    from deeplens.search.evaluation import encode, photo

    key = tenant_key(cluster, "products/chelsea/chelsea.png")
    cluster["s3"].put_object(Bucket=BUCKET, Key=key, Body=encode(photo("chelsea")))
    wait_for(
        lambda: (r := get(cluster, f"/status/{key}")).status_code == 200 and r.json()["status"] == "done",
        120, f"{key} processed", cluster["components"].values(),
    )
    response = get(cluster, "/search/text", params={"q": "cat"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()[0]["product"] == "chelsea"


def test_a_killed_step_is_restarted_and_the_event_is_retried_without_loss(cluster, dataset):
    root, truth = dataset
    features = cluster["components"]["features"]
    features.kill()
    sku = max(truth.products)
    key = upload(cluster, root, f"products/{sku}/{truth.products[sku].photos[0]}")
    time.sleep(1.5)  # the broker's first deliveries to features fail: connection refused
    features.start()
    status = wait_for(
        lambda: (r := get(cluster, f"/status/{key}")).status_code == 200 and r.json()["status"] == "done" and r.json(),
        120, f"{key} processed after the restart", cluster["components"].values(),
    )
    assert status["failures"] == []
    products = get(cluster, "/products").json()["items"]
    assert sku in {p["sku"] for p in products}


def test_a_step_that_fails_for_good_is_dead_lettered_and_replay_completes_it(cluster, dataset):
    root, truth = dataset
    components = cluster["components"]
    instances = [components["keyframes"], components["keyframes-2"]]
    for instance in instances:
        instance.kill()
    video_id = max(truth.videos)
    upload(cluster, root, f"videos/{video_id}.mp4")
    letters = wait_for(
        lambda: [d for d in get(cluster, "/dead-letters").json() if d["subscriber"] == "keyframes"],
        120, "a dead letter for keyframes", components.values(),
    )
    assert letters[0]["event"]["type"] == "dev.deeplens.video.uploaded"
    for instance in instances:
        instance.start()
    assert post(cluster, "/dead-letters/replay").json()["replayed"] >= 1
    wait_for(
        lambda: any(v["video"] == video_id and v["keyframes"] for v in get(cluster, "/videos").json()["items"]),
        120, "the replayed video to be processed", components.values(),
    )


def appearance_rows(cluster) -> list[tuple]:
    return sorted((a["video"], a["product"], a["start"], a["end"], tuple(a["box"]), a["score"]) for a in appearances(cluster))


def test_a_rematch_requested_from_the_results_api_reaches_the_match_function_through_the_broker(cluster, dataset, database_url):
    root, truth = dataset
    video_id, video = next((v, t) for v, t in sorted(truth.videos.items()) if t.appearances)
    sku = video.appearances[0].product
    upload(cluster, root, f"products/{sku}/{truth.products[sku].photos[0]}")
    upload(cluster, root, f"videos/{video_id}.mp4")
    wait_for(lambda: any((a["video"], a["product"]) == (video_id, sku) for a in appearances(cluster)), 180,
             "an appearance to rematch", cluster["components"].values())
    wait_for(lambda: all(s["status"] != "processing" for s in get(cluster, "/status").json()["items"]),
             180, "every upload processed", cluster["components"].values())
    before = appearance_rows(cluster)
    with psycopg.connect(database_url, autocommit=True) as conn:
        requested_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        response = post(cluster, "/rematch")
        assert response.status_code == 202

        def photos_matched_again() -> bool:
            # The match function announced every photo again, and its pass over the keyframes has finished.
            return conn.execute(
                "SELECT bool_and(indexed_at > %s AND earlier_frames_matched_at = indexed_at) FROM local_features"
                " WHERE tenant_id = %s AND item_kind = 'product_image'",
                (requested_at, cluster["tenant"]),
            ).fetchone()[0]

        wait_for(photos_matched_again, 180, "the rematch's pass over the keyframes", cluster["components"].values())
    assert appearance_rows(cluster) == before  # the settings did not change, so neither did the appearances


def test_two_tenants_uploading_the_same_file_names_each_see_only_their_own(cluster, dataset):
    root, truth = dataset
    video_id, video = next((v, t) for v, t in sorted(truth.videos.items()) if t.appearances)
    sku = video.appearances[0].product
    other = f"{cluster['tenant']}-other"
    photo, clip = f"products/{sku}/{truth.products[sku].photos[0]}", f"videos/{video_id}.mp4"
    for tenant in (cluster["tenant"], other):
        upload(cluster, root, photo, tenant)
    upload(cluster, root, clip, other)
    found = wait_for(lambda: [a for a in appearances(cluster, other) if a["evidence"]], 180,
                     "the other tenant's appearance with evidence", cluster["components"].values())
    assert {(a["video"], a["product"]) for a in found} == {(video_id, sku)}
    assert all(a["evidence"].startswith(f"evidence/{other}/") for a in found)
    assert {p["sku"] for p in get(cluster, "/products", tenant=other).json()["items"]} == {sku}
    # The one service answers each caller for its own tenant only.
    theirs = tenant_key(cluster, clip, other)
    assert (get(cluster, f"/status/{theirs}", tenant=other).status_code, get(cluster, f"/status/{theirs}").status_code) == (200, 404)
    assert all(a["evidence"] is None or a["evidence"].startswith(f"evidence/{cluster['tenant']}/") for a in appearances(cluster))
    listed = {o["Key"] for o in cluster["s3"].list_objects_v2(Bucket=BUCKET, Prefix="products/")["Contents"]}
    assert {tenant_key(cluster, photo), tenant_key(cluster, photo, other)} <= listed
