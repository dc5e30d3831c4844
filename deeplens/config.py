"""Configuration: one settings object, read from environment variables.

Every knob has a documented default that runs the laptop path (embedded PostgreSQL, a
local directory store, in-process predictor and broker) with no set-up. The same names
configure the cluster (the Helm chart sets them on each Knative Service).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deeplens.tenants import TENANT_ID

InferenceEngine = Literal["auto", "torch", "onnxruntime"]


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/deeplens``, else ``~/.cache/deeplens``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "deeplens"


class Settings(BaseSettings):
    """All DeepLens settings; environment variables are ``DEEPLENS_<FIELD>`` unless noted."""

    model_config = SettingsConfigDict(env_prefix="DEEPLENS_", extra="ignore")

    # --- where things live -------------------------------------------------------------
    home: Path = Field(Path(".deeplens"), description="Local state: embedded database, local store, temp files.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "DEEPLENS_DATABASE_URL"),
        description="PostgreSQL (with pgvector) URL; unset = embedded server under DEEPLENS_HOME.",
    )
    tenant: str = Field(
        "default", pattern=f"^{TENANT_ID}$",
        description="Tenant the laptop commands (ingest, collect, appearances, …) act for: its rows, and its part of "
        "the bucket (products/<tenant>/…, videos/<tenant>/…). The pipeline steps take the tenant from each object's key.",
    )

    # --- object storage ------------------------------------------------------------------
    store: Literal["local", "s3"] = Field("local", description="Object store backend.")
    bucket: str = Field("deeplens", description="Bucket name (S3) or folder name under DEEPLENS_HOME/store (local).")
    s3_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("S3_ENDPOINT_URL", "DEEPLENS_S3_ENDPOINT_URL"),
        description="S3 endpoint (MinIO URL); credentials come from the usual AWS_* variables.",
    )
    s3_region: str = Field("us-east-1", description="S3 region name.")
    s3_announce: bool = Field(
        True, description="The S3 store announces its own writes; false where MinIO's webhook does it (cluster)."
    )
    webhook_token: SecretStr | None = Field(
        None,
        description="The token MinIO's webhook target sends (MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_<id>); when set, ingest "
        "refuses a bucket notification without it (401). The chart generates one. Unset = none checked (laptop).",
    )
    max_object_bytes: int = Field(2_000_000_000, description="Larger uploads are refused as bad input.")
    max_image_bytes: int = Field(50_000_000, description="Larger product images are refused as bad input.")
    max_request_bytes: int = Field(
        51_000_000, ge=1024,
        description="Request bodies the results service takes at most (an image search's upload and its form); a larger "
        "one is answered 413 before it is read.",
    )

    # --- model -----------------------------------------------------------------------------
    model: str = Field("mobilenet_v2", description="Embedding model name from the model registry.")
    inference_engine: InferenceEngine = Field(
        "auto",
        description="What runs the in-process model on the CPU: 'auto' = ONNX Runtime where the model has an "
        "export (mobilenet_v2; ~2.5x less CPU per image than eager torch here), else torch.",
    )
    predictor_url: str | None = Field(
        None, description="Base URL of a KServe v2 model server (`python -m inference`); unset = in-process predictor."
    )

    # --- operations --------------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines: readable text, or one JSON object per line (the chart sets json).",
    )

    # --- broker ------------------------------------------------------------------------------
    broker_url: str | None = Field(
        None, description="Broker ingress URL the step functions publish to (cluster); unset = the durable queue."
    )
    workers: int = Field(
        2, ge=1,
        description="In-process broker worker threads; in a step pod, the requests it serves at once (the chart sets "
        "it from containerConcurrency). Each gets cores / workers threads in OpenCV, BLAS, ONNX Runtime and decoding.",
    )
    retry: int = Field(3, ge=0, description="Retries after the first delivery attempt (Knative `retry`).")
    backoff_delay: float = Field(0.5, gt=0, description="Seconds; Knative `backoffDelay`.")
    backoff_policy: Literal["exponential", "linear"] = Field("exponential", description="Knative `backoffPolicy`.")

    # --- keyframes ---------------------------------------------------------------------------
    keyframe_min_interval: float = Field(0.2, description="Seconds between keyframes at least.")
    keyframe_max_interval: float = Field(
        1.0, description="Seconds between keyframes at most; appearance edges between keyframes are refined by probing."
    )
    keyframe_scene_threshold: float = Field(0.35, description="Scene-change score that forces a keyframe.")
    frames_per_event: int = Field(16, ge=1, description="Frames carried by one frames.extracted event (a batch).")
    video_segment_seconds: float = Field(
        60.0, ge=0,
        description="A longer video is scanned for keyframes in segments of about this many seconds (each starting at "
        "an I-frame), one event each, so several keyframes and features instances share one video; 0 = never split.",
    )

    # --- what a video's header may declare (checked before any frame is decoded) ---------------
    max_video_pixels: int = Field(
        3840 * 2160, ge=1, description="Width x height a video may have at most (default: 4K UHD); larger is bad input."
    )
    max_video_side: int = Field(4096, ge=1, description="Longer side (px) a video may have at most (default: DCI 4K).")
    max_video_seconds: float = Field(
        3 * 3600.0, gt=0, description="Duration (from the header) a video may have at most; longer is bad input."
    )
    min_video_fps: float = Field(
        1.0, gt=0,
        description="Lowest frame rate a video's header may declare; a zero or broken time base shows as far less.",
    )
    max_video_fps: float = Field(240.0, gt=0, description="Highest frame rate a video's header may declare.")

    # --- matching ----------------------------------------------------------------------------
    match_top_k: int = Field(3, ge=0, description="Embedding candidates verified per frame, besides the voted ones.")
    match_min_votes: int = Field(5, ge=1, description="Local-feature votes a product photo needs to be a candidate.")
    match_max_candidates: int = Field(8, ge=1, description="Voted candidates verified per frame at most.")
    match_min_inliers: int = Field(20, ge=4, description="RANSAC inliers a frame match needs at least.")
    match_threshold: float = Field(
        0.45, ge=0, le=1,
        description="Fused score (0-1) a frame match needs at least: the one knob for precision vs recall.",
    )
    match_product_ratio: float = Field(
        0.6, gt=0, le=1,
        description="A product is matched only where every other product's inliers at its place (the keyframe's "
        "candidates, and its neighbouring keyframes') stay below this share of its own (Lowe's ratio test for whole "
        "products): a product outside the catalog built on a catalog template fits several catalog products about "
        "equally well.",
    )
    product_feature_max_side: int = Field(
        240, ge=16,
        description="Longer side (px) product photos are scaled down to before their SIFT features are extracted. "
        "SIFT doubles an image before its first octave, so 240 px keeps the detail of a product up to ~480 px tall "
        "in a frame; more only adds keypoints that no frame matches and that every verification pays for "
        "(bench: 10% less CPU than 960, same presence accuracy, tighter boxes).",
    )
    frame_feature_max_side: int = Field(
        960, ge=16,
        description="Longer side (px) keyframes are scaled down to before their SIFT features are extracted: speed "
        "against the smallest product found. SIFT's cost grows with the pixels it describes, and a small product keeps "
        "the inliers a match needs only at about full resolution (bench, 960x540 video: 800 px costs 9-12% less CPU "
        "with every product still found; 640 px ~25% less, but products up to ~23% of the frame height are missed).",
    )
    match_pass_frames: int = Field(
        1000,
        ge=1,
        description="Earlier keyframes one match call votes again for newly added product photos; a longer pass goes on "
        "in a follow-up event, so each call stays well inside the step's timeout (25-55 ms a keyframe on 2 cores, "
        "more where more new photos are verified).",
    )
    rematch_pairs: int = Field(
        100,
        ge=1,
        description="(video, product) pairs one match call rolls up again for `deeplens rematch`; the rest go on in "
        "follow-up events, so each call stays well inside the step's timeout (0.3-1.6 s a pair on 2 cores, the more the "
        "longer the GOP of the video, since rolling up probes its frames).",
    )
    appearance_max_gap: float = Field(0.5, description="Seconds of absence bridged inside one appearance.")
    appearance_edge_resolution: float = Field(
        0.2, ge=0,
        description="Appearance edges are refined by verifying the product in frames between keyframes until "
        "the edge is bracketed this closely (seconds; 0 = to the frame).",
    )
    appearance_min_frames: int = Field(2, ge=1, description="Verified frames (keyframes and probed ones) an appearance needs, unless ...")
    appearance_strong_score: float = Field(0.65, ge=0, le=1, description="... one of them scores at least this.")

    # --- search ------------------------------------------------------------------------------
    hnsw_ef_search: int = Field(
        64, ge=1, le=1000,
        description="HNSW candidate list size per search (raised to offset+limit when larger); "
        "bench/search.py: recall@10 ≥ 0.99 at 100k vectors for ~3 ms of SQL.",
    )
    class_top_k: int = Field(
        20, ge=1, le=1000, description="Class probabilities stored per image for text search on classifier models."
    )
    text_class_threshold: float = Field(
        0.45, ge=0, le=1,
        description="Similarity (0-1) a query needs to an ImageNet class name for text search on classifier models.",
    )
    text_class_margin: float = Field(
        0.25, ge=0, le=1, description="Classes within this similarity of the best class also count (with lower weight)."
    )
    text_max_classes: int = Field(10, ge=1, le=100, description="Most ImageNet classes one text query maps to.")
    model_cache_dir: Path | None = Field(
        None,
        description="Where derived model data is cached (ImageNet class-text embeddings, ~5 MB, seconds to recompute; "
        "the ONNX export of mobilenet_v2, 14 MB, a second); "
        "unset = $XDG_CACHE_HOME/deeplens or ~/.cache/deeplens.",
    )
    redis_url: str | None = Field(None, description="Redis URL for the search cache; unset = in-process LRU.")
    cache_entries: int = Field(4096, ge=0, description="In-process LRU cache size in entries (0 = no cache).")
    cache_bytes: int = Field(64_000_000, ge=0, description="In-process LRU cache size in bytes.")
    cache_ttl: float = Field(3600.0, gt=0, description="Seconds a cached query embedding or result lives.")

    # --- collect -----------------------------------------------------------------------------
    collect_timeout: float = Field(30.0, gt=0, description="Seconds per download request (connect and each read).")
    collect_retries: int = Field(3, ge=0, description="Retries of a download after a transient fault (timeout, 5xx, 429).")
    collect_backoff: float = Field(0.5, gt=0, description="Seconds before the first download retry; doubles each time.")
    collect_concurrency: int = Field(4, ge=1, description="Downloads in flight at once.")

    # --- authentication of the results API ---------------------------------------------------
    auth_enabled: bool = Field(
        False,
        description="Require a credential (bearer JWT or API key) on every route but /health, /docs, /openapi.json "
        "and the gallery's static shell; the tenant then comes from the credential. Off = every request is "
        "DEEPLENS_TENANT with every scope (the laptop). On with no token issuer configured (neither "
        "DEEPLENS_AUTH_JWKS_URL nor DEEPLENS_AUTH_HS256_SECRET) the service refuses to start, unless "
        "DEEPLENS_AUTH_API_KEYS_ONLY says API keys alone are meant.",
    )
    auth_jwks_url: str | None = Field(
        None, description="JWKS URL of the identity provider: RS256 and ES256 tokens are verified against its keys."
    )
    auth_issuer: str | None = Field(
        None, description="Required `iss` of every JWT; must be set with DEEPLENS_AUTH_JWKS_URL (checked when set)."
    )
    auth_audience: str = Field("deeplens", min_length=1, description="Required `aud` of every JWT.")
    auth_hs256_secret: SecretStr | None = Field(
        None,
        description="Shared secret (at least 32 characters) for HS256 tokens, for development; never logged.",
    )
    auth_tenant_claim: str = Field("tenant", min_length=1, description="JWT claim that names the caller's tenant.")
    auth_scope_claim: str = Field(
        "scope", min_length=1,
        description="JWT claim with the caller's scopes (read, write, admin): a space-separated string or a list.",
    )
    auth_leeway: int = Field(30, ge=0, le=300, description="Seconds of clock skew allowed on exp/nbf/iat.")
    auth_jwks_lifespan: float = Field(300.0, gt=0, le=86_400, description="Seconds the JWKS is cached.")
    auth_jwks_cooldown: float = Field(
        30.0, ge=0, le=3600,
        description="Seconds at least between JWKS refreshes forced by an unknown `kid` (a rotated key is "
        "picked up then; bounds what tokens with made-up key ids cost the identity provider).",
    )
    auth_api_keys_only: bool = Field(
        False, description="With auth on, accept API keys only: starting with no token issuer configured is meant."
    )

    @property
    def threads_per_worker(self) -> int:
        """Threads one model call or SIFT extraction may use: the cores shared by the broker's workers."""
        return max(1, usable_cores() // self.workers)

    @property
    def store_root(self) -> Path:
        """Folder that backs the local object store."""
        return self.home / "store"

    @property
    def cache_dir(self) -> Path:
        """Folder of derived model data shared by every home and tenant on this machine."""
        return self.model_cache_dir if self.model_cache_dir is not None else default_cache_dir()

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded PostgreSQL server."""
        return self.home / "pgdata"
