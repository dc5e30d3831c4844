"""S3 event-notification records: the JSON MinIO POSTs to a webhook, and parsing it back.

Both store backends deliver these records for every created object, so ingest has one
input format whatever the store: MinIO's webhook body (``EventName``/``Key``/``Records``),
a bare S3 ``Records`` document (as S3 puts into SQS), or a single record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote_plus

from deeplens.errors import BadInput


@dataclass(frozen=True)
class CreatedObject:
    """One object-created notification, decoded."""

    bucket: str
    key: str
    size: int
    etag: str
    event_name: str
    event_time: str
    sequencer: str = ""


@dataclass(frozen=True)
class RemovedObject:
    """One object-removed notification, decoded."""

    bucket: str
    key: str
    sequencer: str = ""


def created_record(bucket: str, key: str, size: int, etag: str, content_type: str, *, source: str = "minio:s3") -> dict[str, Any]:
    """One S3 event record (eventVersion 2.0) for an ``ObjectCreated:Put``, keys URL-encoded as S3 sends them."""
    now = datetime.now(UTC)
    return {
        "eventVersion": "2.0",
        "eventSource": source,
        "awsRegion": "",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventName": "s3:ObjectCreated:Put",
        "userIdentity": {"principalId": "deeplens"},
        "requestParameters": {},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "deeplens",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "deeplens"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote(key, safe="/"),
                "size": size,
                "eTag": etag,
                "contentType": content_type,
                "sequencer": f"{int(now.timestamp() * 1e9):X}",
            },
        },
    }


def webhook_payload(record: dict[str, Any]) -> dict[str, Any]:
    """Wrap a record the way MinIO's webhook target does."""
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    return {"EventName": record["eventName"], "Key": f"{bucket}/{key}", "Records": [record]}


def parse_notification(payload: Any) -> list[CreatedObject]:
    """Decode a webhook body, an S3 ``Records`` document or one record into created objects.

    Records of other event kinds (deletes, test events) are skipped; a payload that is not
    a notification at all raises :class:`BadInput`.
    """
    created = []
    for record in _records(payload):
        name, s3 = record["eventName"], record["s3"]
        if "ObjectCreated" not in name:
            continue
        created.append(
            CreatedObject(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(s3["object"]["key"]),
                size=int(s3["object"].get("size", 0)),
                etag=str(s3["object"].get("eTag", "")).strip('"'),
                event_name=name.removeprefix("s3:"),
                event_time=record.get("eventTime", ""),
                sequencer=str(s3["object"].get("sequencer", "")),
            )
        )
    return created


def parse_removals(payload: Any) -> list[RemovedObject]:
    """The objects a notification says were deleted (``ObjectRemoved`` records), as :func:`parse_notification` reads it."""
    return [
        RemovedObject(bucket=record["s3"]["bucket"]["name"], key=unquote_plus(record["s3"]["object"]["key"]),
                      sequencer=str(record["s3"]["object"].get("sequencer", "")))
        for record in _records(payload) if "ObjectRemoved" in record["eventName"]
    ]


def _records(payload: Any) -> list[dict[str, Any]]:
    """The S3 records of a notification, each checked to name its event, bucket and object."""
    if not isinstance(payload, dict):
        raise BadInput("malformed_notification", "notification payload must be a JSON object")
    if "Records" in payload:
        records = payload["Records"]
    elif "s3" in payload:
        records = [payload]
    elif payload.get("Event") == "s3:TestEvent":
        return []
    else:
        raise BadInput("malformed_notification", "payload has neither 'Records' nor an 's3' record")
    if not isinstance(records, list):
        raise BadInput("malformed_notification", "'Records' must be a list")
    for record in records:
        try:
            if not isinstance(record["eventName"], str) or not isinstance(record["s3"]["bucket"]["name"], str) \
                    or not isinstance(record["s3"]["object"]["key"], str):
                raise TypeError("eventName, bucket name and object key must be strings")
            int(record["s3"]["object"].get("size", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput("malformed_notification", f"notification record lacks a field: {exc}") from exc
    return records
