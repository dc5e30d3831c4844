"""The S3 store against a real S3 HTTP API (moto's server), bucket notifications included."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer

from deeplens.errors import NotFound
from deeplens.storage.keys import DERIVED_PREFIXES
from deeplens.storage.notifications import parse_notification
from deeplens.storage.s3 import S3Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


@pytest.fixture
def store(s3_endpoint, credentials, request):
    store = S3Store(f"b-{request.node.name[-20:].lower().replace('_', '-')}", endpoint_url=s3_endpoint, quiet_prefixes=DERIVED_PREFIXES)
    store.ensure_bucket()
    return store


def test_objects_round_trip_through_the_s3_api(store, tmp_path):
    store.put("videos/a.mp4", b"0123")
    store.download("videos/a.mp4", tmp_path / "a.mp4")
    assert (tmp_path / "a.mp4").read_bytes() == b"0123"
    assert store.head("videos/a.mp4").size == 4
    assert store.head("videos/none.mp4") is None


def test_listing_is_by_prefix(store):
    store.put("products/s/1.jpg", b"1")
    store.put("videos/v.mp4", b"2")
    assert [info.key for info in store.list("products/")] == ["products/s/1.jpg"]


def test_the_s3_store_announces_the_same_record_the_bucket_delivers_through_sqs(store, s3_endpoint):
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"{store.bucket}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    store.client.put_bucket_notification_configuration(
        Bucket=store.bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    announced = []
    store.subscribe(announced.append)
    store.put("products/SKU 1/front.jpg", b"abcdef")
    delivered = []
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(message["Body"])
            if "Records" in body:
                delivered.extend(parse_notification(body))
        if delivered:
            break
    [ours] = parse_notification(announced[0])
    [theirs] = delivered
    assert (ours.bucket, ours.key, ours.size, ours.etag) == (theirs.bucket, theirs.key, theirs.size, theirs.etag)


def test_an_s3_store_that_leaves_announcing_to_the_bucket_announces_nothing(s3_endpoint, credentials):
    store = S3Store("quiet-bucket", endpoint_url=s3_endpoint, announce=False)
    store.ensure_bucket()
    announced = []
    store.subscribe(announced.append)
    store.put("videos/v.mp4", b"x")
    assert announced == []


def test_a_video_is_read_in_place_by_range_through_its_media_location(store, tmp_path):
    from synthkit import shot_frames, write_video

    from deeplens.vision.video import FrameReader

    path = write_video(tmp_path / "v.mp4", shot_frames(4, 60, size=(160, 96), pan=3), fps=15)
    store.put_file("videos/v.mp4", path)
    location = store.media_location("videos/v.mp4")
    assert location.startswith("http")
    with FrameReader(location) as remote, FrameReader(path) as local:
        for index in (40, 7, 59):
            assert (remote.read(index) == local.read(index)).all()


def test_a_missing_object_has_no_media_location(store):
    with pytest.raises(NotFound):
        store.media_location("videos/none.mp4")
