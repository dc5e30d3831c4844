"""Configuration: one settings object, read from environment variables.

Every knob has a documented default that runs the laptop path (embedded PostgreSQL, a
local directory store, in-process model and broker) with no set-up. The same names
configure the cluster (the Helm chart sets them on each Knative Service and on the model
server). :class:`Settings` is every group below in one object; docs/configuration.md lists
them all (``python -m deeplens.config_docs > docs/configuration.md`` writes it).

A ``DEEPLENS_*`` variable that is no setting stops start-up (:func:`check_environment`),
as does a keyword that is none in ``Settings(...)``: a misspelt name would otherwise be
ignored in silence and its default used. Only the variables Kubernetes sets for the
release's own Services (``DEEPLENS_POSTGRESQL_SERVICE_HOST``, ...) are let through.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deeplens.errors import DeepLensError
from deeplens.tenants import TENANT_ID

ENV_PREFIX = "DEEPLENS_"
KSERVE_MODEL_DIR = Path("/mnt/models")

InferenceEngine = Literal["auto", "torch", "onnxruntime"]
ResizeMode = Literal["squash", "shortest", "longest"]

# The variables Kubernetes sets for every Service in a pod's namespace (service links): with
# the release named "deeplens", Services such as deeplens-postgresql give DEEPLENS_POSTGRESQL_
# SERVICE_HOST, DEEPLENS_POSTGRESQL_PORT=tcp://..., DEEPLENS_POSTGRESQL_PORT_5432_TCP_ADDR, ...
_SERVICE_LINK = re.compile(r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)")
_SERVICE_LINK_PORT = re.compile(r"[A-Z0-9_]+_PORT")
_SERVICE_LINK_URL = re.compile(r"(tcp|udp|sctp)://")


class UnknownSetting(DeepLensError):
    """A ``DEEPLENS_*`` environment variable that is no DeepLens setting (a misspelling, or one removed)."""


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


class LocationSettings(BaseModel):
    """Where things live.

    Local state, the database, and the tenant the laptop commands act for.
    """

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


class StorageSettings(BaseModel):
    """Object storage.

    The bucket, and how large an upload or a request may be.
    """

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


class ModelSettings(BaseModel):
    """Embedding model.

    Which model embeds images and texts, and how it runs: in process, or in the model server at
    DEEPLENS_PREDICTOR_URL. Both build the model from these same settings.
    """

    model: str = Field("mobilenet_v2", description="Embedding model name from the model registry (`deeplens models`).")
    predictor_url: str | None = Field(
        None,
        description="Base URL of a KServe v2 model server (`python -m inference`); unset = the model runs in process. "
        "Either way the model is built from the settings below, so both give the same vectors.",
    )
    inference_engine: InferenceEngine = Field(
        "auto",
        description="What runs the model: 'auto' = ONNX Runtime where the model has an export (mobilenet_v2; ~2.5x less "
        "CPU per image than eager torch here) and runs on the CPU in fp32, else torch; 'torch'; or 'onnxruntime' "
        "(refused where it cannot run the model).",
    )
    model_dir: Path | None = Field(
        None,
        description="Checkpoint directory of open_clip models (one checkpoint, or one folder per architecture); "
        "unset = /mnt/models when it exists (where KServe mounts the storageUri).",
    )
    pretrained: str | None = Field(
        None, description="open_clip pretrained tag or file, used only when no checkpoint directory holds the model."
    )
    device: str | None = Field(
        None,
        description="torch device ('cpu', 'cuda', 'cuda:1'); unset = cuda if available. The model's cached ONNX export "
        "(see DEEPLENS_INFERENCE_ENGINE) runs on the CPU whenever this is unset or 'cpu'.",
    )
    half: bool | None = Field(None, description="fp16 weights and activations; unset = on for CUDA, off for CPU.")
    batch_size: int = Field(16, ge=1, description="Images or texts per forward pass.")
    torch_threads: int | None = Field(
        None, ge=1,
        description="Intra-op threads of one model call (torch or ONNX Runtime); unset = the usable cores shared by the "
        "DEEPLENS_WORKERS in process, all of them in the model server.",
    )
    resize_mode: ResizeMode = Field(
        "squash",
        description="How images become the model's square input: 'squash' (resize, no crop), "
        "'shortest' (resize shorter side, centre crop) or 'longest' (resize longer side, pad).",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where derived model data is cached (ImageNet class-text embeddings, ~5 MB, seconds to recompute; "
        "the ONNX export of mobilenet_v2, 14 MB, a second); "
        "unset = $XDG_CACHE_HOME/deeplens or ~/.cache/deeplens.",
    )


class ModelServerSettings(BaseModel):
    """Model server.

    The KServe model server (`python -m inference`): its port and how it batches requests.
    """

    http_port: int = Field(8080, ge=1, le=65535, description="HTTP port (`--http_port` overrides it).")
    batch_wait_ms: float = Field(
        0.0, ge=0,
        description="How long the batcher waits for more requests before a forward pass (`--batch_wait_ms`): 0 = batch "
        "whatever queued during the previous pass; a few ms can help on a GPU, where passes are short.",
    )
    max_items_per_request: int = Field(
        256, ge=1, description="Most images or texts one request may carry (`--max_items`)."
    )


class OperationsSettings(BaseModel):
    """Operations.

    How the logs look.
    """

    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines: readable text, or one JSON object per line (the chart sets json).",
    )


class BrokerSettings(BaseModel):
    """Broker.

    Where events go, how many a process handles at once, and how they are retried.
    """

    broker_url: str | None = Field(
        None, description="Broker ingress URL the step functions publish to (cluster); unset = the durable queue."
    )
    workers: int = Field(
        2, ge=1,
        description="In-process broker worker threads; in a step pod, the requests it serves at once (the chart sets "
        "it from containerConcurrency). Each gets cores / workers threads in OpenCV, BLAS, ONNX Runtime and decoding.",
    )
    delivery_batch: int = Field(
        16, ge=1,
        description="Deliveries of a batching route (one event per uploaded object: ingest, a product photo's "
        "features) an in-process broker worker takes at once; their claim and outcome share a transaction. 1 = one at a time.",
    )
    retry: int = Field(3, ge=0, description="Retries after the first delivery attempt (Knative `retry`).")
    backoff_delay: float = Field(0.5, gt=0, description="Seconds; Knative `backoffDelay`.")
    backoff_policy: Literal["exponential", "linear"] = Field("exponential", description="Knative `backoffPolicy`.")


class KeyframeSettings(BaseModel):
    """Keyframes.

    Which frames of a video are looked at, and how a video is cut into events.
    """

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


class VideoLimitSettings(BaseModel):
    """Video limits.

    What a video's header may declare (checked before any frame is decoded).
    """

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


class MatchingSettings(BaseModel):
    """Matching.

    How a product is found in a keyframe, and how its appearances are rolled up.
    """

    match_top_k: int = Field(3, ge=0, description="Embedding candidates verified per frame, besides the voted ones.")
    match_min_votes: int = Field(
        2, ge=1,
        description="Local-feature votes a product photo needs to be a candidate (the best-voted DEEPLENS_MATCH_MAX_CANDIDATES "
        "are verified). A large catalog has more near rivals, so fewer of a product's descriptors pass the vote's ratio "
        "test: at 5,000 products 13% of true products got fewer than 5 votes, and 5 cut candidate recall@3 to 0.87 "
        "(2: 0.975, as at 40 products, for 4.5% more CPU; bench/catalog_scale.py).",
    )
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
    local_features_device: str | None = Field(
        None, pattern=r"^(cpu|cuda(:\d+)?)$",
        description="Where the features step computes SIFT: unset = OpenCV on the CPU; a torch device ('cuda', "
        "'cuda:1') = deeplens.vision.torch_sift there, which computes OpenCV's SIFT (the same keypoints, descriptors "
        "within one step of 255) so frames still match a catalog extracted on the CPU. 'cpu' runs that code on the "
        "CPU, only to check it: ~50x slower than OpenCV.",
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


class SearchSettings(BaseModel):
    """Search.

    The vector index, text search on classifier models, and the search cache.
    """

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
    redis_url: str | None = Field(None, description="Redis URL for the search cache; unset = in-process LRU.")
    cache_entries: int = Field(4096, ge=0, description="In-process LRU cache size in entries (0 = no cache).")
    cache_bytes: int = Field(64_000_000, ge=0, description="In-process LRU cache size in bytes.")
    cache_ttl: float = Field(3600.0, gt=0, description="Seconds a cached query embedding or result lives.")


class CollectSettings(BaseModel):
    """Collect.

    Downloading a catalog's product photos (`deeplens collect`).
    """

    collect_timeout: float = Field(30.0, gt=0, description="Seconds per download request (connect and each read).")
    collect_retries: int = Field(3, ge=0, description="Retries of a download after a transient fault (timeout, 5xx, 429).")
    collect_backoff: float = Field(0.5, gt=0, description="Seconds before the first download retry; doubles each time.")
    collect_concurrency: int = Field(4, ge=1, description="Downloads in flight at once.")


class AuthSettings(BaseModel):
    """Authentication.

    Credentials on the results API.
    """

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


class Settings(
    LocationSettings,
    StorageSettings,
    ModelSettings,
    ModelServerSettings,
    OperationsSettings,
    BrokerSettings,
    KeyframeSettings,
    VideoLimitSettings,
    MatchingSettings,
    SearchSettings,
    CollectSettings,
    AuthSettings,
    BaseSettings,
):
    """All DeepLens settings; environment variables are ``DEEPLENS_<FIELD>`` unless noted.

    Creating one checks the environment first (:func:`check_environment`), so every process
    refuses a misspelt variable when it starts.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    def __init__(self, **values: Any) -> None:
        check_environment(os.environ)
        super().__init__(**values)

    @property
    def threads_per_worker(self) -> int:
        """Threads one SIFT extraction or decode may use: the cores shared by the broker's workers."""
        return max(1, usable_cores() // self.workers)

    @property
    def model_threads(self) -> int:
        """Threads one model call may use: DEEPLENS_TORCH_THREADS, else the cores shared by the broker's workers."""
        return self.torch_threads or self.threads_per_worker

    @property
    def checkpoints_dir(self) -> Path | None:
        """Where open_clip checkpoints live: DEEPLENS_MODEL_DIR, else KServe's storageUri mount when it exists."""
        if self.model_dir is not None:
            return self.model_dir
        return KSERVE_MODEL_DIR if KSERVE_MODEL_DIR.is_dir() else None

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


def setting_groups() -> list[type[BaseModel]]:
    """The groups :class:`Settings` is made of, in the order the documentation lists them."""
    return [base for base in Settings.__bases__ if base is not BaseSettings]


def variable_names(name: str) -> list[str]:
    """The environment variables that set field ``name`` of :class:`Settings`, the preferred first."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice).upper() for choice in alias.choices]
    return [f"{ENV_PREFIX}{name.upper()}"]


def known_variables() -> set[str]:
    """Every environment variable :class:`Settings` reads."""
    return {variable for name in Settings.model_fields for variable in variable_names(name)}


def _service_link(name: str, value: str) -> bool:
    """Whether ``name=value`` is one of the variables Kubernetes sets for a Service (see _SERVICE_LINK)."""
    if _SERVICE_LINK.fullmatch(name):
        return True
    return bool(_SERVICE_LINK_PORT.fullmatch(name) and _SERVICE_LINK_URL.match(value))


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The ``DEEPLENS_*`` variables in ``environ`` that set nothing, each with the nearest valid name if any."""
    known = known_variables()
    # Compared without the prefix every candidate shares, which would make any name look close.
    suffixes = sorted(k.removeprefix(ENV_PREFIX) for k in known if k.startswith(ENV_PREFIX))
    problems = []
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings reads names in any case
        if not upper.startswith(ENV_PREFIX) or upper in known or _service_link(upper, environ[name]):
            continue
        nearest = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), suffixes, n=1)
        hint = f"; did you mean {ENV_PREFIX}{nearest[0]}?" if nearest else " (docs/configuration.md lists the settings)"
        problems.append(f"{name} is not a DeepLens setting{hint}")
    return problems


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise :class:`UnknownSetting` naming every ``DEEPLENS_*`` variable in ``environ`` that sets nothing."""
    problems = unknown_variables(environ)
    if problems:
        raise UnknownSetting("\n".join(problems))
