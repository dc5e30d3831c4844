"""The KServe InferenceService that serves embeddings, and the optional ServiceMonitor."""

from __future__ import annotations

from chartkit import NAMESPACE, RELEASE, VALUE_SETS


def predictor(rendered):
    (isvc,) = rendered.of_kind("InferenceService", "serving.kserve.io/v1beta1")
    return isvc


def kserve_container(rendered):
    (c,) = predictor(rendered)["spec"]["predictor"]["containers"]
    return c


def env_of(c):
    return {e["name"]: e["value"] for e in c.get("env", [])}


def test_the_predictor_runs_the_model_server_module_without_grpc(defaults):
    c = kserve_container(defaults)
    assert c["name"] == "kserve-container"
    assert c["command"] == ["python", "-m", "inference"]
    assert c["args"] == ["--http_port", "8080", "--enable_grpc", "false"]
    assert c["ports"][0]["containerPort"] == 8080
    assert c["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}


def test_the_predictor_serves_the_configured_model(render):
    assert env_of(kserve_container(render({"model": "open_clip:ViT-B-32"})))["DEEPLENS_MODEL"] == "open_clip:ViT-B-32"


def test_the_predictor_runs_as_a_plain_deployment_by_default(defaults):
    isvc = predictor(defaults)
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["spec"]["predictor"]["minReplicas"] >= 1


def test_the_predictor_can_scale_to_zero_in_knative_mode(render):
    isvc = predictor(render(VALUE_SETS["knative-predictor"]))
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert isvc["spec"]["predictor"]["minReplicas"] == 0


def test_the_predictor_is_cpu_only_by_default(defaults):
    c = kserve_container(defaults)
    assert "nvidia.com/gpu" not in c["resources"].get("limits", {})
    assert "STORAGE_URI" not in env_of(c)


def test_a_gpu_predictor_asks_for_nvidia_gpus_and_is_scheduled_on_gpu_nodes(render):
    rendered = render(VALUE_SETS["gpu-predictor-with-model-directory"])
    spec = predictor(rendered)["spec"]["predictor"]
    assert kserve_container(rendered)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert spec["runtimeClassName"] == "nvidia"


def test_a_model_directory_is_handed_to_kserves_storage_initializer(render):
    env = env_of(kserve_container(render(VALUE_SETS["gpu-predictor-with-model-directory"])))
    assert env["STORAGE_URI"] == "pvc://models/open_clip"
    assert env["DEEPLENS_MODEL_DIR"] == "/mnt/models"  # where KServe puts it


def test_the_steps_call_the_predictor_at_its_cluster_local_address(defaults):
    name = predictor(defaults)["metadata"]["name"]
    assert defaults.config()["DEEPLENS_PREDICTOR_URL"] == f"http://{name}-predictor.{NAMESPACE}.svc.cluster.local"


def test_the_predictor_name_leaves_room_for_kserves_suffixes(rendered_set):
    for isvc in rendered_set.of_kind("InferenceService"):
        # KServe names the predictor <name>-predictor (and Knative adds -00001).
        assert len(isvc["metadata"]["name"] + "-predictor-00001") <= 63


def test_an_external_predictor_url_replaces_the_inference_service(render):
    rendered = render({"predictor": {"url": "http://embedder.ml.svc.cluster.local"}})
    assert rendered.of_kind("InferenceService") == []
    assert rendered.config()["DEEPLENS_PREDICTOR_URL"] == "http://embedder.ml.svc.cluster.local"


def test_without_a_predictor_the_steps_embed_in_process(render):
    rendered = render({"predictor": {"enabled": False}})
    assert rendered.of_kind("InferenceService") == []
    assert "DEEPLENS_PREDICTOR_URL" not in rendered.config()


# ----------------------------------------------------------------------------- monitoring


def test_monitoring_is_off_by_default(defaults):
    assert defaults.of_kind("ServiceMonitor") == []


def test_monitoring_scrapes_the_queue_proxy_of_every_knative_service(render):
    rendered = render(VALUE_SETS["monitoring-on"])
    (monitor,) = rendered.of_kind("ServiceMonitor", "monitoring.coreos.com/v1")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (expression,) = monitor["spec"]["selector"]["matchExpressions"]
    assert expression["key"] == "serving.knative.dev/service" and expression["operator"] == "In"
    assert sorted(expression["values"]) == sorted(rendered.knative_services())
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [{"port": "http-usermetric", "path": "/metrics", "interval": "30s"}]
    assert monitor["metadata"]["name"] == RELEASE
