"""values.schema.json types every value; Helm refuses bad values before rendering anything."""

from __future__ import annotations

import json

import helm_python
import jsonschema
import pytest
import yaml
from chartkit import CHART


def refusal(render, values) -> str:
    """The message Helm refuses ``values`` with (fails if they are accepted)."""
    with pytest.raises(helm_python.HelmError) as caught:
        render(values)
    return str(caught.value)


def test_the_default_values_pass_the_schema(chart):
    chart.chart.validate_schema(chart.chart.values)


def test_the_schema_is_a_valid_draft_07_schema_that_the_defaults_satisfy():
    # Draft-07: what Helm 3 (gojsonschema) and Helm 4 both understand.
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))


def test_the_schema_declares_every_default_value():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def undeclared(node, sub, path):
        if "$ref" in sub:
            sub = schema["definitions"][sub["$ref"].rsplit("/", 1)[1]]
        if isinstance(node, dict) and "properties" in sub:
            for key, value in node.items():
                if key in sub["properties"]:
                    yield from undeclared(value, sub["properties"][key], f"{path}.{key}")
                elif not isinstance(sub.get("additionalProperties"), dict):
                    yield f"{path}.{key}"
        elif isinstance(node, dict) and isinstance(sub.get("additionalProperties"), dict):
            for key, value in node.items():
                yield from undeclared(value, sub["additionalProperties"], f"{path}.{key}")

    assert list(undeclared(values, schema, "")) == []


def test_a_negative_retry_count_is_refused(render):
    assert "/eventing/delivery/retry" in refusal(render, {"eventing": {"delivery": {"retry": -1}}})


def test_an_unknown_backoff_policy_is_refused(render):
    message = refusal(render, {"eventing": {"delivery": {"backoffPolicy": "fibonacci"}}})
    assert "/eventing/delivery/backoffPolicy" in message


def test_a_backoff_delay_that_is_not_an_iso8601_duration_is_refused(render):
    for delay in ("1s", "PT", "P1DT", "0.5", "PT-1S"):
        assert "/eventing/delivery/backoffDelay" in refusal(render, {"eventing": {"delivery": {"backoffDelay": delay}}})


def test_iso8601_backoff_delays_are_accepted(render):
    for delay in ("PT0.2S", "PT1S", "PT1M30S", "PT1H", "P1D", "P1DT2H"):
        render({"eventing": {"delivery": {"backoffDelay": delay}}})


def test_replicas_given_as_a_string_are_refused(render):
    assert "/predictor/minReplicas" in refusal(render, {"predictor": {"minReplicas": "1"}})


def test_a_fractional_scale_bound_is_refused(render):
    assert "/functions/steps/match/maxScale" in refusal(render, {"functions": {"steps": {"match": {"maxScale": 2.5}}}})


def test_a_negative_container_concurrency_is_refused(render):
    message = refusal(render, {"functions": {"defaults": {"containerConcurrency": -4}}})
    assert "/functions/defaults/containerConcurrency" in message


def test_a_gpu_count_given_as_text_is_refused(render):
    assert "/predictor/gpu" in refusal(render, {"predictor": {"gpu": "one"}})


def test_an_unknown_deployment_mode_is_refused(render):
    assert "/predictor/deploymentMode" in refusal(render, {"predictor": {"deploymentMode": "Serverful"}})


def test_a_misspelt_value_is_refused_rather_than_ignored(render):
    assert "redis" in refusal(render, {"redis": {"enable": False}})


def test_an_unknown_top_level_value_is_refused(render):
    assert "monitor" in refusal(render, {"monitor": {"enabled": True}})


def test_a_malformed_resource_quantity_is_refused(render):
    values = {"functions": {"defaults": {"resources": {"requests": {"memory": "lots"}}}}}
    assert "/functions/defaults/resources/requests/memory" in refusal(render, values)


def test_auth_enabled_must_be_a_boolean(render):
    assert "/auth/enabled" in refusal(render, {"auth": {"enabled": "yes"}})


def test_an_external_s3_without_an_endpoint_is_refused(render):
    assert "/s3/endpoint" in refusal(render, {"s3": {"external": True}})


def test_an_external_postgresql_without_a_url_or_secret_is_refused(render):
    message = refusal(render, {"postgresql": {"external": True}})
    assert "/postgresql/externalUrl" in message and "/credentials/existingSecret" in message


def test_an_external_postgresql_with_an_existing_secret_needs_no_url(render):
    render({"postgresql": {"external": True}, "credentials": {"existingSecret": "db-credentials"}})


def test_a_password_that_would_break_the_database_url_is_refused(render):
    assert "/postgresql/auth/password" in refusal(render, {"postgresql": {"auth": {"password": "p@ss:w/rd"}}})


def test_min_scale_above_max_scale_is_refused(render):
    message = refusal(render, {"functions": {"steps": {"match": {"minScale": 5, "maxScale": 2}}}})
    assert "minScale 5 is above maxScale 2" in message
