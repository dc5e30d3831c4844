"""Every value set renders manifests the API server would accept."""

from __future__ import annotations

from collections import Counter

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml
from chartkit import CHART, CRD_FILES, KUBERNETES_VERSION, UNSCHEMED_KINDS, object_meta_problems


def test_the_chart_passes_strict_lint():
    report = helm_python.lint(CHART, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


def test_the_chart_passes_strict_lint_with_the_kind_values():
    values = yaml.safe_load((CHART / "values-kind.yaml").read_text())
    report = helm_python.lint(CHART, values, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


def test_core_kinds_match_the_kubernetes_schema(rendered_set):
    checked = 0
    for doc in rendered_set.docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in CRD_FILES or key in UNSCHEMED_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc}")
        checked += 1
    assert checked >= 2  # at least the ConfigMap and the Secret or its replacement's users


def test_knative_and_kserve_kinds_match_their_crd_schema(rendered_set, crd_schemas):
    checked = Counter()
    for doc in rendered_set.docs:
        key = (doc["apiVersion"], doc["kind"])
        if key not in crd_schemas:
            continue
        errors = sorted(jsonschema.Draft7Validator(crd_schemas[key]).iter_errors(doc), key=str)
        assert not errors, f"{doc['kind']} {doc['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
        assert not object_meta_problems(doc), object_meta_problems(doc)
        checked[doc["kind"]] += 1
    assert checked["Service"] >= 6 and checked["Trigger"] >= 1 and checked["Broker"] == 1


def test_every_kind_is_either_core_a_known_crd_or_declared_schemaless(rendered_set):
    for doc in rendered_set.docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in CRD_FILES or key in UNSCHEMED_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{key} has no schema to be validated against")
        except kubernetes_validate.ValidationError:
            pass  # reported by test_core_kinds_match_the_kubernetes_schema


def test_no_two_resources_share_a_kind_and_name(rendered_set):
    counts = Counter((d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in rendered_set.docs)
    assert [k for k, n in counts.items() if n > 1] == []


def test_knative_service_names_leave_room_for_revision_names(rendered_set):
    # Knative names revisions <service>-00001; the revision name must be a DNS-1035 label.
    for name in rendered_set.knative_services():
        assert len(f"{name}-00001") <= 63 and name[0].isalpha(), name


def test_no_manifest_holds_an_empty_or_null_value_the_api_would_drop(rendered_set):
    def walk(node, path):
        if node is None:
            yield path
        elif isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{path}[{i}]")

    nulls = [p for d in rendered_set.docs for p in walk(d, f"{d['kind']}/{d['metadata']['name']}")]
    assert nulls == []
