"""Every setting the chart gives a container is one DeepLens reads (deeplens.config.Settings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from deeplens.config import UnknownSetting, check_environment, known_variables

# The settings read under names of their own (the rest are DEEPLENS_*).
ALIASED = {"DATABASE_URL", "S3_ENDPOINT_URL"}


def containers(rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what, container) for every container of every workload the chart runs."""
    for doc in rendered.docs:
        if doc["apiVersion"] == "serving.knative.dev/v1" or doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            spec = doc["spec"]["template"]["spec"]
        elif doc["kind"] == "InferenceService":
            spec = doc["spec"]["predictor"]
        else:
            continue
        for c in spec.get("initContainers", []) + spec["containers"]:
            yield f"{doc['kind']}/{doc['metadata']['name']}/{c['name']}", c


def environment(rendered, c: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets: its env, and the rendered ConfigMaps and Secrets it takes whole."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in rendered.of_kind("ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in rendered.of_kind("Secret")}
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            env |= maps.get(source["configMapRef"]["name"], {})
        if "secretRef" in source:
            env |= secrets.get(source["secretRef"]["name"], {})
    for e in c.get("env", []):
        env[e["name"]] = e.get("value", "<from a reference>")
    return env


def settings_in(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name.startswith("DEEPLENS_") or name in ALIASED}


def test_every_setting_the_chart_sets_on_a_container_is_read_by_the_settings(rendered_set):
    known = known_variables()
    for what, c in containers(rendered_set):
        unread = set(settings_in(environment(rendered_set, c))) - known
        assert not unread, f"{what} sets {sorted(unread)}, which no setting reads"


def test_every_container_the_chart_runs_would_pass_the_start_up_check(rendered_set):
    for what, c in containers(rendered_set):
        check_environment(environment(rendered_set, c))  # raises UnknownSetting naming the variable


def test_the_chart_gives_the_steps_the_model_server_and_the_results_api_their_settings(defaults):
    seen = {what: settings_in(environment(defaults, c)) for what, c in containers(defaults)}
    steps = [env for what, env in seen.items() if what.startswith("Service/features/")]
    predictor = [env for what, env in seen.items() if what.startswith("InferenceService/")]
    assert steps and {"DATABASE_URL", "S3_ENDPOINT_URL", "DEEPLENS_MODEL", "DEEPLENS_WORKERS"} <= set(steps[0])
    assert predictor and "DEEPLENS_MODEL" in predictor[0]


def test_a_misspelt_extra_setting_is_caught(render):
    rendered = render({"extraEnv": {"DEEPLENS_MATCH_TRESHOLD": "0.5"}})
    unread = {name for _, c in containers(rendered) for name in settings_in(environment(rendered, c))} - known_variables()
    assert unread == {"DEEPLENS_MATCH_TRESHOLD"}
    features = next(c for what, c in containers(rendered) if what.startswith("Service/features/"))
    with pytest.raises(UnknownSetting, match="did you mean DEEPLENS_MATCH_THRESHOLD"):
        check_environment(environment(rendered, features))
