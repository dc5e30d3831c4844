"""Shared helpers of the chart tests: value sets, rendering, CRD schemas.

No cluster, no helm binary: ``helm-python-sdk`` runs Helm's Go engine in process
(values.schema.json included), core kinds are checked with ``kubernetes-validate`` and the
Knative / KServe kinds against the upstream CRDs' openAPIV3Schema in ``../shared/crds``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "deeplens"
CRDS = REPO.parent / "shared" / "crds"
NAMESPACE = "media"
RELEASE = "deeplens"
KUBERNETES_VERSION = "1.34"  # the kind node image in kind-config.yaml
# libyaml when present: the KServe CRD is 2 MB of YAML.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Value sets every structural test runs against (name -> values).
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "external-s3-and-postgresql": {
        "s3": {
            "external": True,
            "endpoint": "https://s3.eu-west-1.amazonaws.com",
            "region": "eu-west-1",
            "bucket": "acme-deeplens",
            "accessKeyId": "AKIAEXAMPLE",
            "secretAccessKey": "example-secret",
        },
        "postgresql": {"external": True, "externalUrl": "postgresql://deeplens:pw@db.example.com:5432/deeplens"},
    },
    "gpu-predictor-with-model-directory": {
        "model": "open_clip:ViT-B-32",
        "predictor": {
            "gpu": 1,
            "storageUri": "pvc://models/open_clip",
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "runtimeClassName": "nvidia",
        },
    },
    "gpu-features": {
        "functions": {
            "steps": {
                "features": {
                    "gpu": 1,
                    "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "runtimeClassName": "nvidia",
                }
            }
        }
    },
    "knative-predictor": {"predictor": {"deploymentMode": "Knative", "minReplicas": 0, "maxReplicas": 3}},
    "redis-off": {"redis": {"enabled": False}},
    "monitoring-on": {"monitoring": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}},
    "prefixed-with-existing-secret": {
        "functionNamePrefix": "dl-",
        "credentials": {"existingSecret": "deeplens-prod"},
        "auth": {"enabled": False},
        "results": {"visibility": "cluster-local"},
        "extraEnv": {"LOG_LEVEL": "debug"},
    },
    "kind": yaml.safe_load((CHART / "values-kind.yaml").read_text()),
}

# Kinds validated against the CRDs beside the repository.
CRD_FILES = {
    ("serving.knative.dev/v1", "Service"): "knative-serving-service.yaml",
    ("eventing.knative.dev/v1", "Broker"): "knative-eventing-broker.yaml",
    ("eventing.knative.dev/v1", "Trigger"): "knative-eventing-trigger.yaml",
    ("serving.kserve.io/v1beta1", "InferenceService"): "kserve-inferenceservices.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "prometheus-operator-servicemonitors.yaml",
    ("monitoring.coreos.com/v1", "PodMonitor"): "prometheus-operator-podmonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheus-operator-prometheusrules.yaml",
}
# CRD kinds with no schema here: checked by hand, never silently (none today).
UNSCHEMED_KINDS: set[tuple[str, str]] = set()


@dataclass
class Rendered:
    """One rendering of the chart: every manifest, plus the NOTES."""

    docs: list[dict[str, Any]]
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: str = ""

    def of_kind(self, kind: str, api_version: str | None = None) -> list[dict[str, Any]]:
        return [
            d for d in self.docs if d["kind"] == kind and (api_version is None or d["apiVersion"] == api_version)
        ]

    def get(self, kind: str, name: str, api_version: str | None = None) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind, api_version) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}: {self.names(kind)}"
        return found[0]

    def names(self, kind: str, api_version: str | None = None) -> list[str]:
        return [d["metadata"]["name"] for d in self.of_kind(kind, api_version)]

    def knative_services(self) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["name"]: d for d in self.of_kind("Service", "serving.knative.dev/v1")}

    def triggers(self) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["name"]: d for d in self.of_kind("Trigger", "eventing.knative.dev/v1")}

    def config(self) -> dict[str, str]:
        return self.get("ConfigMap", f"{RELEASE}-config")["data"]


class Chart:
    """The chart, loaded once; renders are cached by their values."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.chart = helm_python.Chart.load(path)
        self._cache: dict[str, Rendered] = {}

    def render(self, values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE) -> Rendered:
        key = json.dumps([values or {}, name, namespace], sort_keys=True)
        if key not in self._cache:
            self._cache[key] = self._render(copy.deepcopy(values or {}), name, namespace)
        return self._cache[key]

    def _render(self, values: dict[str, Any], name: str, namespace: str) -> Rendered:
        out = self.chart.render(values=values, name=name, namespace=namespace, is_install=True)
        rendered = Rendered(docs=[])
        for template, text in sorted(out.items()):
            if template.endswith("NOTES.txt"):
                rendered.notes = text
                continue
            docs = [d for d in yaml.safe_load_all(text) if d]
            rendered.templates[template] = docs
            rendered.docs.extend(docs)
        return rendered


# ------------------------------------------------------------------------- CRD schemas


def _structural(schema: Any, *, root: bool = False) -> Any:
    """An openAPIV3Schema as JSON Schema with the API server's rules for unknown fields.

    The API server prunes (and with strict field validation, rejects) fields a structural
    schema does not declare, unless x-kubernetes-preserve-unknown-fields is set; plain
    JSON Schema would accept them silently. ``nullable`` becomes a null type.
    """
    if isinstance(schema, list):
        return [_structural(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _structural(v) for k, v in schema.items() if k not in ("properties", "items", "additionalProperties")}
    if "properties" in schema:
        out["properties"] = {k: _structural(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = _structural(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _structural(schema["additionalProperties"])
    elif "additionalProperties" in schema:
        out["additionalProperties"] = schema["additionalProperties"]
    if root:
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def object_meta_problems(doc: dict[str, Any]) -> list[str]:
    """What the API server would refuse in a custom resource's metadata (its CRD says only 'object')."""
    meta = doc.get("metadata") or {}
    name = meta.get("name", "")
    problems = []
    if not (DNS1123_SUBDOMAIN.match(name) and len(name) <= 253):
        problems.append(f"name {name!r} is not a DNS-1123 subdomain")
    for field_name in ("labels", "annotations"):
        for key, value in (meta.get(field_name) or {}).items():
            if not isinstance(value, str):
                problems.append(f"{field_name}[{key}] is {type(value).__name__}, not a string")
            if not QUALIFIED_KEY.match(key) or len(key.split("/")[-1]) > 63:
                problems.append(f"{field_name} key {key!r} is not a qualified name")
            if field_name == "labels" and isinstance(value, str) and not (LABEL_VALUE.match(value) and len(value) <= 63):
                problems.append(f"label {key}={value!r} is not a valid label value")
    return problems


def load_crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> structural JSON Schema, from the CRDs in ../shared/crds."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for (api_version, kind), filename in CRD_FILES.items():
        group, version = api_version.split("/")
        for crd in yaml.load_all((CRDS / filename).read_text(), Loader=_YAML_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind, filename
            for v in crd["spec"]["versions"]:
                if v["name"] == version and v.get("served", True):
                    schemas[(api_version, kind)] = _structural(v["schema"]["openAPIV3Schema"], root=True)
        assert (api_version, kind) in schemas, f"{filename} serves no {api_version} {kind}"
    return schemas
