"""The Knative Services: one per step, plus deadletter and the results API."""

from __future__ import annotations

import helm_python
import pytest
from chartkit import RELEASE, VALUE_SETS

STEP_ENV_FROM_SECRET = {"DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
SHARED_SETTINGS = {
    "DEEPLENS_STORE",
    "DEEPLENS_BUCKET",
    "S3_ENDPOINT_URL",
    "DEEPLENS_S3_ANNOUNCE",
    "DEEPLENS_BROKER_URL",
    "DEEPLENS_PREDICTOR_URL",
    "DEEPLENS_TENANT",
    "DEEPLENS_MODEL",
    "DEEPLENS_AUTH_ENABLED",
}


def container(service):
    (only,) = service["spec"]["template"]["spec"]["containers"]
    return only


def env_names(c):
    return [e["name"] for e in c.get("env", [])]


def pod_specs(rendered):
    """(what, pod spec) for every workload the chart runs."""
    for doc in rendered.docs:
        if doc["apiVersion"] == "serving.knative.dev/v1":
            yield f"ksvc/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
        elif doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
        elif doc["kind"] == "InferenceService":
            yield f"isvc/{doc['metadata']['name']}", doc["spec"]["predictor"]


def test_there_is_one_knative_service_per_subscriber_plus_deadletter_and_results(defaults, routes):
    subscribers = {r["subscriber"] for r in routes}
    assert set(defaults.knative_services()) == subscribers | {"deadletter", "results"}


def test_each_step_runs_its_own_functions_framework_target(defaults, routes):
    services = defaults.knative_services()
    for step in {r["subscriber"] for r in routes} | {"deadletter"}:
        c = container(services[step])
        assert "command" not in c and "args" not in c  # the image's functions-framework CMD
        assert {"name": "FUNCTION_TARGET", "value": step} in c["env"]


def test_every_step_scales_to_zero_by_default(defaults):
    for name, service in defaults.knative_services().items():
        annotations = service["spec"]["template"]["metadata"]["annotations"]
        assert annotations["autoscaling.knative.dev/min-scale"] == "0", name
        assert int(annotations["autoscaling.knative.dev/max-scale"]) >= 1, name


def test_step_overrides_merge_over_the_defaults(defaults, chart):
    defaults_cfg = chart.chart.values["functions"]["defaults"]
    keyframes = defaults.knative_services()["keyframes"]["spec"]["template"]
    assert keyframes["spec"]["containerConcurrency"] == 1
    assert keyframes["spec"]["timeoutSeconds"] == 600
    assert container(defaults.knative_services()["keyframes"])["resources"]["requests"]["cpu"] == "1"
    evidence = defaults.knative_services()["evidence"]["spec"]["template"]
    assert evidence["spec"]["containerConcurrency"] == defaults_cfg["containerConcurrency"]
    assert container(defaults.knative_services()["evidence"])["resources"] == defaults_cfg["resources"]


def test_a_gpu_features_step_asks_for_a_gpu_computes_sift_on_it_and_runs_on_gpu_nodes(render):
    rendered = render(VALUE_SETS["gpu-features"])
    features = rendered.knative_services()["features"]["spec"]["template"]["spec"]
    assert container(rendered.knative_services()["features"])["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert env_value(container(rendered.knative_services()["features"]), "DEEPLENS_LOCAL_FEATURES_DEVICE") == "cuda"
    assert features["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert features["tolerations"][0]["key"] == "nvidia.com/gpu" and features["runtimeClassName"] == "nvidia"
    # The other steps stay where they were.
    match = rendered.knative_services()["match"]["spec"]["template"]["spec"]
    assert "nodeSelector" not in match and "nvidia.com/gpu" not in container(rendered.knative_services()["match"])["resources"]["limits"]


def test_the_steps_compute_on_the_cpu_by_default(defaults):
    for service in defaults.knative_services().values():
        assert "DEEPLENS_LOCAL_FEATURES_DEVICE" not in env_names(container(service))
        assert "nvidia.com/gpu" not in container(service)["resources"].get("limits", {})


def test_a_gpu_for_a_step_without_a_gpu_path_is_refused(render):
    with pytest.raises(helm_python.HelmError, match="only the features step computes on a GPU"):
        render({"functions": {"steps": {"keyframes": {"gpu": 1}}}})


def test_scale_bounds_and_concurrency_come_from_values(render):
    values = {"functions": {"steps": {"match": {"minScale": 1, "maxScale": 7, "containerConcurrency": 3}}}}
    match = render(values).knative_services()["match"]["spec"]["template"]
    assert match["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert match["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"] == "7"
    assert match["spec"]["containerConcurrency"] == 3


def env_value(c, name):
    return next((e.get("value") for e in c.get("env", []) if e["name"] == name), None)


def test_each_step_sizes_its_thread_pools_by_the_requests_it_serves_at_once(defaults):
    for step, service in defaults.knative_services().items():
        concurrency = service["spec"]["template"]["spec"].get("containerConcurrency")
        if concurrency is not None and step != "results":
            assert env_value(container(service), "DEEPLENS_WORKERS") == str(concurrency), step


def test_a_step_with_unlimited_concurrency_keeps_the_default_worker_count(render):
    match = render({"functions": {"steps": {"match": {"containerConcurrency": 0}}}}).knative_services()["match"]
    assert "DEEPLENS_WORKERS" not in env_names(container(match))


def test_every_deeplens_container_runs_the_release_image(render):
    rendered = render({"image": {"repository": "registry.example.com/deeplens", "tag": "1.2.3", "pullPolicy": "Always"}})
    images = {container(s)["image"] for s in rendered.knative_services().values()}
    images |= {c["image"] for isvc in rendered.of_kind("InferenceService") for c in isvc["spec"]["predictor"]["containers"]}
    assert images == {"registry.example.com/deeplens:1.2.3"}


def test_the_image_tag_defaults_to_the_charts_app_version(defaults, chart):
    tags = {container(s)["image"] for s in defaults.knative_services().values()}
    assert tags == {f"deeplens:{chart.chart.metadata['appVersion']}"}


def test_every_step_gets_credentials_from_the_secret_and_settings_from_the_configmap(defaults):
    for name, service in defaults.knative_services().items():
        c = container(service)
        from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
        # Only ingest checks the token MinIO's webhook carries.
        expected = STEP_ENV_FROM_SECRET | ({"DEEPLENS_WEBHOOK_TOKEN"} if name.endswith("ingest") else set())
        assert set(from_secret) == expected, name
        assert {ref["name"] for ref in from_secret.values()} == {f"{RELEASE}-credentials"}
        assert c["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-config"}}], name


def test_every_secret_reference_names_a_key_the_rendered_secret_holds(rendered_set):
    secrets = {s["metadata"]["name"]: s.get("stringData", {}) for s in rendered_set.of_kind("Secret")}
    for what, spec in pod_specs(rendered_set):
        for c in spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if not ref or ref["name"] not in secrets:
                    continue  # an existing Secret the user provides
                assert ref.get("optional") or ref["key"] in secrets[ref["name"]], f"{what}: {e['name']}"


def test_the_shared_settings_configure_the_cluster_path(defaults):
    config = defaults.config()
    assert SHARED_SETTINGS <= set(config)
    assert config["DEEPLENS_STORE"] == "s3"
    assert config["DEEPLENS_TENANT"] == "default"
    assert config["DEEPLENS_MODEL"] == "mobilenet_v2"
    assert all(isinstance(v, str) for v in config.values())


def test_settings_names_are_ones_deeplens_reads():
    from deeplens.config import Settings

    read = set()
    for name, info in Settings.model_fields.items():
        aliases = getattr(info.validation_alias, "choices", None) or []
        read |= {str(a).upper() for a in aliases} or {f"DEEPLENS_{name.upper()}"}
    config_only = {"DEEPLENS_BROKER_URL", "DEEPLENS_PREDICTOR_URL", "DEEPLENS_REDIS_URL"}
    # Every shared setting the chart sets is either a Settings field or one of the three
    # read elsewhere (broker URL: functions/_runtime.py; the others: the cluster issue).
    unknown = (SHARED_SETTINGS | {"DEEPLENS_S3_REGION"}) - read - config_only
    assert unknown == set()


def test_auth_is_enabled_by_default(defaults):
    assert defaults.config()["DEEPLENS_AUTH_ENABLED"] == "true"


def test_auth_can_be_turned_off(render):
    assert render({"auth": {"enabled": False}}).config()["DEEPLENS_AUTH_ENABLED"] == "false"


def test_every_auth_setting_the_chart_sets_is_one_deeplens_reads(render):
    from deeplens.config import Settings

    config = render({"auth": {"jwksUrl": "https://idp.example/jwks", "issuer": "https://idp.example/"}}).config()
    fields = {f"DEEPLENS_{name.upper()}" for name in Settings.model_fields}
    auth = {name for name in config if name.startswith("DEEPLENS_AUTH_")}
    assert auth >= {"DEEPLENS_AUTH_JWKS_URL", "DEEPLENS_AUTH_ISSUER", "DEEPLENS_AUTH_AUDIENCE"} and auth <= fields


def test_the_identity_provider_is_configured_from_values(render):
    config = render({"auth": {"jwksUrl": "https://idp.example/jwks", "issuer": "https://idp.example/",
                              "audience": "shop-api"}}).config()
    assert (config["DEEPLENS_AUTH_JWKS_URL"], config["DEEPLENS_AUTH_ISSUER"], config["DEEPLENS_AUTH_AUDIENCE"]) == (
        "https://idp.example/jwks", "https://idp.example/", "shop-api")


def test_a_jwks_url_without_an_issuer_is_refused(render):
    with pytest.raises(Exception, match="issuer"):
        render({"auth": {"jwksUrl": "https://idp.example/jwks"}})


def test_the_hs256_secret_comes_from_a_secret_and_only_to_the_results_api(render):
    rendered = render({"auth": {"hs256Secret": {"existingSecret": "idp-dev", "key": "secret"}}})
    assert not any("HS256" in name for name in rendered.config())
    for name, service in rendered.knative_services().items():
        env = {e["name"]: e for e in container(service).get("env", [])}
        if name == "results":
            assert env["DEEPLENS_AUTH_HS256_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "idp-dev", "key": "secret"}
        else:
            assert "DEEPLENS_AUTH_HS256_SECRET" not in env, name


def test_the_hs256_secret_cannot_be_a_plain_value(render):
    with pytest.raises(Exception, match="hs256Secret"):
        render({"auth": {"hs256Secret": "plain-text-secret"}})


def test_only_knative_and_the_releases_own_pods_may_reach_the_functions(defaults, routes):
    (policy,) = defaults.of_kind("NetworkPolicy")
    selected = set(policy["spec"]["podSelector"]["matchExpressions"][0]["values"])
    assert selected == {r["subscriber"] for r in routes} | {"deadletter", "results"}
    (rule,) = policy["spec"]["ingress"]
    namespaces = rule["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert {"knative-serving", "knative-eventing"} <= set(namespaces)
    assert rule["from"][1]["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": RELEASE}


def test_the_network_policy_can_be_left_out(render):
    assert render({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy") == []


def test_the_results_api_serves_on_all_interfaces_without_pipeline_workers(defaults):
    c = container(defaults.knative_services()["results"])
    assert c["command"][:2] == ["deeplens", "serve"]
    assert "--no-workers" in c["command"]
    assert c["command"][c["command"].index("--host") + 1] == "0.0.0.0"
    assert c["command"][c["command"].index("--port") + 1] == str(c["ports"][0]["containerPort"])


def test_steps_are_cluster_local_and_the_results_api_is_public(defaults):
    for name, service in defaults.knative_services().items():
        visibility = service["metadata"]["labels"].get("networking.knative.dev/visibility")
        assert visibility == (None if name == "results" else "cluster-local"), name


def test_the_results_api_can_be_made_cluster_local(render):
    results = render({"results": {"visibility": "cluster-local"}}).knative_services()["results"]
    assert results["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_the_results_api_can_be_left_out(render):
    assert "results" not in render({"results": {"enabled": False}}).knative_services()


def test_every_container_runs_as_non_root_without_privilege_escalation(rendered_set):
    for what, spec in pod_specs(rendered_set):
        pod_ctx = spec.get("securityContext", {})
        for c in spec["containers"]:
            ctx = c.get("securityContext", {})
            assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, what
            assert ctx.get("allowPrivilegeEscalation") is False, what
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], what


def test_every_container_declares_resource_requests_and_a_memory_limit(rendered_set):
    for what, spec in pod_specs(rendered_set):
        for c in spec["containers"]:
            assert c["resources"]["requests"], what
            assert "memory" in c["resources"]["limits"], what


def test_a_settings_change_rolls_a_new_revision(render):
    def checksums(rendered):
        return {n: s["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, s in rendered.knative_services().items()}

    before, after = checksums(render()), checksums(render({"tenant": "acme"}))
    assert all(before[n] != after[n] for n in before)


@pytest.mark.parametrize("where", ["extraEnv", "step"])
def test_extra_environment_reaches_the_containers(render, where):
    values = {"extraEnv": {"LOG_LEVEL": "debug"}} if where == "extraEnv" else {
        "functions": {"steps": {"match": {"env": {"LOG_LEVEL": "debug"}}}}
    }
    match = container(render(values).knative_services()["match"])
    assert {"name": "LOG_LEVEL", "value": "debug"} in match["env"]


@pytest.mark.parametrize(("probe", "path"), [("livenessProbe", "/health"), ("readinessProbe", "/ready")])
def test_the_results_service_is_probed_for_liveness_and_readiness_apart(defaults, probe, path):
    results = next(s for name, s in defaults.knative_services().items() if name.endswith("results"))
    assert container(results)[probe]["httpGet"]["path"] == path


def test_traces_are_off_unless_an_endpoint_is_given(render):
    assert not any(name.startswith("OTEL_") for name in render({}).config())


def test_a_tracing_endpoint_reaches_every_process_with_its_sampler_ratio(render):
    from deeplens import tracing

    config = render({"tracing": {"endpoint": "http://otel-collector.monitoring:4318", "samplerRatio": 0.25}}).config()
    assert (config["OTEL_EXPORTER_OTLP_ENDPOINT"], config["OTEL_TRACES_SAMPLER_ARG"]) == ("http://otel-collector.monitoring:4318", "0.25")
    assert tracing.traces_endpoint(config) == "http://otel-collector.monitoring:4318/v1/traces"  # what the code reads
