"""Bucket layout, notification records and the local directory store."""

import errno
import os
from pathlib import Path

import pytest

from deeplens.errors import BadInput, NotFound
from deeplens.storage.keys import DERIVED_PREFIXES, frame_key, parse_key, product_key, video_key
from deeplens.storage.local import LocalStore
from deeplens.storage.notifications import parse_notification, webhook_payload


def test_product_photo_keys_name_their_tenant_and_sku():
    parsed = parse_key("products/acme/SKU-1/front.jpg")
    assert (parsed.kind, parsed.tenant, parsed.sku) == ("product_image", "acme", "SKU-1")


def test_video_keys_name_their_tenant_and_their_video_by_file_stem():
    parsed = parse_key("videos/acme/review 17.mp4")
    assert (parsed.kind, parsed.tenant, parsed.video_id) == ("video", "acme", "review 17")


@pytest.mark.parametrize("key", ["frames/acme/v/000001.jpg", "evidence/acme/a/1.jpg"])
def test_derived_keys_are_derived(key):
    assert parse_key(key).kind == "derived"


@pytest.mark.parametrize("key", [
    "readme.txt", "products/loose.jpg", "products/SKU-1/front.jpg", "videos/review.mp4", "videos/acme/sub/x.mp4",
    "products/acme/sku/deep/x.jpg", "videos/../x.mp4", "products/../sku/x.jpg", "products/acme/../x.jpg",
    "products/acme//x.jpg", "videos/-acme/x.mp4",
])
def test_keys_outside_the_layout_are_unknown(key):
    assert parse_key(key).kind == "unknown"


def test_the_same_file_names_of_two_tenants_are_two_keys():
    assert product_key("a", "SKU-1", "front.jpg") != product_key("b", "SKU-1", "front.jpg")
    assert frame_key("a", "video-1", 3) != frame_key("b", "video-1", 3)


@pytest.mark.parametrize("tenant", ["", "..", "a/b", "-x", "x" * 64, "a\x00b"])
def test_a_key_is_never_made_for_a_tenant_id_that_could_leave_its_segment(tenant):
    with pytest.raises(ValueError):
        video_key(tenant, "x.mp4")


def test_local_store_announces_each_created_source_object_as_an_s3_record(tmp_path):
    store = LocalStore(tmp_path, "bucket", quiet_prefixes=DERIVED_PREFIXES)
    records = []
    store.subscribe(records.append)
    store.put("products/SKU 1/front photo.jpg", b"abc")
    [created] = parse_notification(records[0])
    assert (created.bucket, created.key, created.size) == ("bucket", "products/SKU 1/front photo.jpg", 3)
    assert records[0]["s3"]["object"]["key"] == "products/SKU%201/front%20photo.jpg"


def test_local_store_does_not_announce_derived_objects(tmp_path):
    store = LocalStore(tmp_path, "bucket", quiet_prefixes=DERIVED_PREFIXES)
    records = []
    store.subscribe(records.append)
    store.put("frames/v/000001.jpg", b"abc")
    assert records == []


def test_local_store_round_trips_bytes_and_lists_by_prefix(tmp_path):
    store = LocalStore(tmp_path, "bucket")
    store.put("videos/a.mp4", b"1")
    store.put("products/s/b.jpg", b"22")
    assert store.get("products/s/b.jpg") == b"22"
    assert [info.key for info in store.list("products/")] == ["products/s/b.jpg"]


def test_a_file_uploaded_from_disk_is_stored_and_announced_as_its_bytes_would_be(tmp_path):
    store = LocalStore(tmp_path, "bucket")
    records = []
    store.subscribe(records.append)
    (tmp_path / "front.jpg").write_bytes(b"photo bytes")
    from_file = store.put_file("products/acme/s/front.jpg", tmp_path / "front.jpg")
    from_bytes = store.put("products/acme/s/back.jpg", b"photo bytes")
    assert store.get("products/acme/s/front.jpg") == b"photo bytes"
    assert (from_file.size, from_file.etag) == (from_bytes.size, from_bytes.etag)
    assert [created.key for record in records for created in parse_notification(record)] == [
        "products/acme/s/front.jpg", "products/acme/s/back.jpg"]


def test_a_file_moved_into_the_store_is_stored_with_its_etag_and_gone_from_its_path(tmp_path):
    store = LocalStore(tmp_path, "bucket")
    (tmp_path / "index.faiss").write_bytes(b"index bytes")
    moved = store.move_file("indexes/acme/1.faiss", tmp_path / "index.faiss")
    assert store.get("indexes/acme/1.faiss") == b"index bytes" and not (tmp_path / "index.faiss").exists()
    assert (moved.size, moved.etag) == (11, store.head("indexes/acme/1.faiss").etag)


def test_a_file_on_another_file_system_is_copied_into_the_store_and_removed(tmp_path, monkeypatch):
    store = LocalStore(tmp_path, "bucket")
    (tmp_path / "index.faiss").write_bytes(b"index bytes")
    rename, renames = os.replace, []

    def across_devices_first(source, target):
        renames.append(source)
        if len(renames) == 1:  # the move itself: the file is on another file system
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        rename(source, target)

    monkeypatch.setattr("deeplens.storage.local.os.replace", across_devices_first)
    store.move_file("indexes/acme/1.faiss", tmp_path / "index.faiss")
    assert store.get("indexes/acme/1.faiss") == b"index bytes" and not (tmp_path / "index.faiss").exists()
    assert len(renames) == 2


def test_a_downloaded_object_keeps_its_bytes_when_the_object_is_replaced_or_deleted(tmp_path):
    store = LocalStore(tmp_path, "bucket")
    store.put("videos/acme/v.mp4", b"first")
    store.download("videos/acme/v.mp4", tmp_path / "copy")
    store.put("videos/acme/v.mp4", b"second")
    assert (tmp_path / "copy").read_bytes() == b"first"
    store.delete("videos/acme/v.mp4")
    assert (tmp_path / "copy").read_bytes() == b"first"


def test_a_file_upload_refuses_keys_that_escape_the_bucket(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"x")
    with pytest.raises(BadInput):
        LocalStore(tmp_path, "bucket").put_file("../outside.jpg", tmp_path / "x.jpg")


def test_local_store_refuses_keys_that_escape_the_bucket(tmp_path):
    with pytest.raises(BadInput):
        LocalStore(tmp_path, "bucket").put("../outside.txt", b"x")


def test_reading_a_missing_object_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        LocalStore(tmp_path, "bucket").get("videos/none.mp4")


def test_minio_webhook_payload_parses_like_a_bare_record(tmp_path):
    store = LocalStore(tmp_path, "bucket")
    records = []
    store.subscribe(records.append)
    store.put("videos/v.mp4", b"x")
    assert parse_notification(webhook_payload(records[0])) == parse_notification(records[0])


def test_s3_test_events_carry_no_objects():
    assert parse_notification({"Event": "s3:TestEvent", "Bucket": "b"}) == []


def test_delete_records_are_skipped():
    record = {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "videos/v.mp4"}}}
    assert parse_notification({"Records": [record]}) == []


@pytest.mark.parametrize("payload", [[], {"hello": 1}, {"Records": "x"}, {"Records": [{"eventName": "ObjectCreated:Put"}]}])
def test_malformed_notifications_are_bad_input(payload):
    with pytest.raises(BadInput):
        parse_notification(payload)


def test_the_local_store_reads_media_in_place_from_its_file(tmp_path):
    store = LocalStore(tmp_path, "bucket")
    store.put("videos/v.mp4", b"data")
    assert Path(store.media_location("videos/v.mp4")).read_bytes() == b"data"
    with pytest.raises(NotFound):
        store.media_location("videos/none.mp4")
