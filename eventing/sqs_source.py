"""Bucket notifications delivered through SQS, forwarded to a sink (ingest) over HTTP.

S3 (and MinIO with an SQS-compatible target) can put event records into a queue instead
of POSTing a webhook. This source long-polls the queue and POSTs each message body (an S3
``Records`` document) to the sink as-is; a message is deleted only after a 2xx answer, so
a sink that is down loses nothing: the message becomes visible again and is retried.

    python -m eventing.sqs_source --queue-url URL --sink http://ingest...
"""

from __future__ import annotations

import argparse
import logging
import threading
from typing import Any

import boto3
import httpx

log = logging.getLogger(__name__)


class SqsSource:
    """Moves messages from one SQS queue to one HTTP sink."""

    def __init__(self, sqs: Any, queue_url: str, sink: str, client: httpx.Client, *, wait_seconds: int = 1) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.sink = sink
        self.client = client
        self.wait_seconds = wait_seconds

    def poll_once(self) -> int:
        """Forward one batch of messages; returns how many the sink accepted."""
        response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_seconds)
        forwarded = 0
        for message in response.get("Messages", []):
            try:
                answer = self.client.post(self.sink, content=message["Body"], headers={"content-type": "application/json"})
            except httpx.HTTPError as exc:
                log.warning("sink %s unreachable (%s); message stays queued", self.sink, exc)
                continue
            if answer.is_success or answer.status_code == 400:
                # A 400 means the body is not a notification (e.g. a queue test message):
                # redelivering it cannot help, and ingest has logged why.
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                forwarded += answer.is_success
            else:
                log.warning("sink answered %s; message stays queued for redelivery", answer.status_code)
        return forwarded

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a broken poll must not end the source
                log.exception("polling %s failed; retrying", self.queue_url)
                stop.wait(1.0)


def main(argv: list[str] | None = None) -> None:
    """Run the source until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m eventing.sqs_source", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--sink", required=True, help="URL of the ingest function")
    parser.add_argument("--endpoint-url", default=None, help="SQS endpoint (default: AWS)")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region)
    source = SqsSource(sqs, args.queue_url, args.sink, httpx.Client(timeout=60.0))
    stop = threading.Event()
    try:
        source.run(stop)
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    main()
