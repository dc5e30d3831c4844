"""skaffold.yaml, kind-config.yaml and scripts/cluster-up.sh: the laptop cluster path.

None of kind, skaffold or a cluster can run here; these tests check what the files
promise each other (image names, values files, ports, pinned versions).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from chartkit import CHART, REPO

CLUSTER_UP = REPO / "scripts" / "cluster-up.sh"


@pytest.fixture(scope="module")
def skaffold():
    return yaml.safe_load((REPO / "skaffold.yaml").read_text())


@pytest.fixture(scope="module")
def dev(skaffold):
    (profile,) = [p for p in skaffold["profiles"] if p["name"] == "dev"]
    return profile


@pytest.fixture(scope="module")
def kind_config():
    return yaml.safe_load((REPO / "kind-config.yaml").read_text())


@pytest.fixture(scope="module")
def script():
    return CLUSTER_UP.read_text()


def test_skaffold_builds_the_image_from_the_dockerfile_and_deploys_the_chart(skaffold):
    assert skaffold["apiVersion"].startswith("skaffold/v4")
    (artifact,) = skaffold["build"]["artifacts"]
    assert artifact["docker"]["dockerfile"] == "Dockerfile" and (REPO / artifact["context"] / "Dockerfile").is_file()
    (release,) = skaffold["deploy"]["helm"]["releases"]
    assert (REPO / release["chartPath"]).resolve() == CHART.resolve()
    templates = release["setValueTemplates"]
    assert set(templates) == {"image.repository", "image.tag"}
    assert "IMAGE_DIGEST" in templates["image.tag"]  # pushed images are deployed by digest


def test_the_dev_profile_names_the_image_where_knative_skips_tag_resolution(dev):
    (artifact,) = dev["build"]["artifacts"]
    # Knative resolves tags through the registry except for kind.local, ko.local, dev.local;
    # kind images are loaded into the nodes and never pushed.
    assert artifact["image"].split("/")[0] in {"kind.local", "ko.local", "dev.local"}
    assert dev["build"]["local"]["push"] is False


def test_the_dev_profile_deploys_with_the_kind_values_and_local_images(dev):
    (release,) = dev["deploy"]["helm"]["releases"]
    (values_file,) = release["valuesFiles"]
    assert (REPO / values_file).resolve() == (CHART / "values-kind.yaml").resolve()
    assert release["setValues"]["image.pullPolicy"] == "IfNotPresent"
    assert release["setValueTemplates"] == {"image.repository": "{{.IMAGE_REPO}}", "image.tag": "{{.IMAGE_TAG}}"}


def test_the_dev_profile_targets_the_kind_cluster_cluster_up_creates(dev, kind_config):
    context = f"kind-{kind_config['name']}"
    assert dev["deploy"]["kubeContext"] == context
    assert {"kubeContext": context} in dev["activation"]


def test_the_kind_values_shrink_every_step(render, chart):
    kind = yaml.safe_load((CHART / "values-kind.yaml").read_text())
    rendered = render(kind)
    for name, service in rendered.knative_services().items():
        annotations = service["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["autoscaling.knative.dev/max-scale"]) <= 2, name
        cpu = service["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        assert cpu.endswith("m") and int(cpu[:-1]) <= 100, name


def test_kind_makes_one_control_plane_and_one_worker_on_pinned_node_images(kind_config):
    assert kind_config["kind"] == "Cluster" and kind_config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert sorted(n["role"] for n in kind_config["nodes"]) == ["control-plane", "worker"]
    for node in kind_config["nodes"]:
        assert re.fullmatch(r"kindest/node:v1\.\d+\.\d+(@sha256:[0-9a-f]{64})?", node["image"])


def test_kind_maps_the_kourier_node_ports_that_cluster_up_assigns(kind_config, script):
    (control_plane,) = [n for n in kind_config["nodes"] if n["role"] == "control-plane"]
    mapped = {m["containerPort"] for m in control_plane["extraPortMappings"]}
    assigned = {int(p) for p in re.findall(r'"nodePort":(\d+)', script)}
    assert assigned and assigned == mapped


def test_kind_config_documents_gpu_nodes():
    text = (REPO / "kind-config.yaml").read_text()
    assert "nvidia" in text.lower() and "/var/run/nvidia-container-devices/all" in text


def test_cluster_up_is_strict_bash():
    assert CLUSTER_UP.read_text().startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in CLUSTER_UP.read_text()
    assert CLUSTER_UP.stat().st_mode & 0o111, "scripts/cluster-up.sh is not executable"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_cluster_up_parses():
    subprocess.run(["bash", "-n", str(CLUSTER_UP)], check=True)


def test_cluster_up_pins_every_platform_version(script):
    versions = dict(re.findall(r'^([A-Z_]+_VERSION)="([^"]+)"', script, re.MULTILINE))
    assert set(versions) == {
        "CERT_MANAGER_VERSION",
        "KNATIVE_SERVING_VERSION",
        "KNATIVE_EVENTING_VERSION",
        "KOURIER_VERSION",
        "KSERVE_VERSION",
    }
    for name, version in versions.items():
        assert re.fullmatch(r"(knative-)?v\d+\.\d+\.\d+", version), f"{name}={version} is not a pinned release"
    assert "latest" not in script.lower().replace("latest ", "")
    for url in re.findall(r'https://\S+', script):
        assert "${" in url, f"{url} does not use a pinned version variable"


def test_cluster_up_installs_the_whole_platform_in_order(script):
    steps = [
        "cert-manager.yaml",
        "serving-crds.yaml",
        "serving-core.yaml",
        "kourier.yaml",
        "eventing-crds.yaml",
        "eventing-core.yaml",
        "in-memory-channel.yaml",
        "mt-channel-broker.yaml",
        "oci://ghcr.io/kserve/charts/kserve-crd",
        "oci://ghcr.io/kserve/charts/kserve ",
        "skaffold run -p dev",
    ]
    commands = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    positions = [commands.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions) if p == -1]
    assert positions == sorted(positions)


def test_cluster_up_waits_for_each_component_before_the_next(script):
    for namespace in ("cert-manager", "knative-serving", "kourier-system", "knative-eventing", "kserve"):
        assert f"wait_deployments {namespace}" in script
    assert "kubectl wait crd --all --for=condition=Established" in script
    assert "kubectl wait deployment --all" in script


def test_cluster_up_installs_kserve_in_the_mode_the_chart_asks_for(script, defaults):
    (isvc,) = defaults.of_kind("InferenceService")
    mode = isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
    assert f"kserve.controller.deploymentMode={mode}" in script


def test_kubernetes_docs_cover_the_walkthrough():
    text = (REPO / "docs" / "kubernetes.md").read_text()
    for topic in ("scripts/cluster-up.sh", "skaffold dev -p dev", "helm install", "predictor.gpu", "s3.external",
                  "postgresql.external", "credentials.existingSecret", "values.schema.json"):
        assert topic in text, topic
