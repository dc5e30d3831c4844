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
    created = []
    for record in records:
        try:
            name = record["eventName"]
            s3 = record["s3"]
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
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput("malformed_notification", f"notification record lacks a field: {exc}") from exc
    return created
