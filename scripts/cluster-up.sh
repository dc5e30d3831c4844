#!/usr/bin/env bash
# Create a kind cluster with everything DeepLens runs on, then build and deploy DeepLens.
#
#   scripts/cluster-up.sh            # or: make cluster-up
#
# Installs PINNED versions of cert-manager, Knative Serving (+ Kourier), Knative Eventing
# (+ the in-memory channel and the multi-tenant channel-based broker) and KServe (Standard
# mode: plain Deployments for the predictor), then runs `skaffold run -p dev`.
# Needs: docker, kind, kubectl, helm (v3.8+ for OCI charts), skaffold (v2).
# Re-running it is safe: every step applies or upgrades in place.
set -euo pipefail

# ---------------------------------------------------------------- pinned versions
CLUSTER_NAME="${CLUSTER_NAME:-deeplens}"
CERT_MANAGER_VERSION="v1.18.2"
KNATIVE_SERVING_VERSION="knative-v1.21.0"
KNATIVE_EVENTING_VERSION="knative-v1.21.0"
KOURIER_VERSION="knative-v1.21.0"
KSERVE_VERSION="v0.16.0"
WAIT="${WAIT:-10m}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

log() { printf '\n==> %s\n' "$*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is not installed (needed: $2)" >&2; exit 1; }
}
need docker "building the image and running kind"
need kind "the local cluster"
need kubectl "installing the platform"
need helm "installing KServe and DeepLens"
need skaffold "building and deploying DeepLens"

# Every Deployment in a namespace Available (the namespace's pods are up).
wait_deployments() {
  kubectl wait deployment --all --namespace "$1" --for=condition=Available --timeout="${WAIT}"
}

# ---------------------------------------------------------------- cluster
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  log "kind cluster '${CLUSTER_NAME}' exists; reusing it"
else
  log "creating kind cluster '${CLUSTER_NAME}'"
  kind create cluster --name "${CLUSTER_NAME}" --config kind-config.yaml --wait "${WAIT}"
fi
kubectl config use-context "kind-${CLUSTER_NAME}"

# ---------------------------------------------------------------- cert-manager (KServe webhooks)
log "cert-manager ${CERT_MANAGER_VERSION}"
kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
wait_deployments cert-manager

# ---------------------------------------------------------------- Knative Serving + Kourier
log "Knative Serving ${KNATIVE_SERVING_VERSION}"
kubectl apply -f "https://github.com/knative/serving/releases/download/${KNATIVE_SERVING_VERSION}/serving-crds.yaml"
kubectl wait crd --all --for=condition=Established --timeout="${WAIT}"
kubectl apply -f "https://github.com/knative/serving/releases/download/${KNATIVE_SERVING_VERSION}/serving-core.yaml"
wait_deployments knative-serving

log "Kourier ${KOURIER_VERSION}"
kubectl apply -f "https://github.com/knative/net-kourier/releases/download/${KOURIER_VERSION}/kourier.yaml"
kubectl patch configmap/config-network --namespace knative-serving --type merge \
  --patch '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
# kind has no load balancer: expose Kourier on the NodePorts that kind-config.yaml maps
# (a strategic merge: the ports are matched by number, their targetPorts kept).
kubectl patch service/kourier --namespace kourier-system --type strategic --patch \
  '{"spec":{"type":"NodePort","ports":[{"name":"http2","port":80,"nodePort":31080},{"name":"https","port":443,"nodePort":31443}]}}'
# Public URLs like http://results.deeplens.127.0.0.1.sslip.io:8080
kubectl patch configmap/config-domain --namespace knative-serving --type merge \
  --patch '{"data":{"127.0.0.1.sslip.io":""}}'
wait_deployments kourier-system
wait_deployments knative-serving

# ---------------------------------------------------------------- Knative Eventing + broker
log "Knative Eventing ${KNATIVE_EVENTING_VERSION}"
kubectl apply -f "https://github.com/knative/eventing/releases/download/${KNATIVE_EVENTING_VERSION}/eventing-crds.yaml"
kubectl wait crd --all --for=condition=Established --timeout="${WAIT}"
kubectl apply -f "https://github.com/knative/eventing/releases/download/${KNATIVE_EVENTING_VERSION}/eventing-core.yaml"
wait_deployments knative-eventing
kubectl apply -f "https://github.com/knative/eventing/releases/download/${KNATIVE_EVENTING_VERSION}/in-memory-channel.yaml"
kubectl apply -f "https://github.com/knative/eventing/releases/download/${KNATIVE_EVENTING_VERSION}/mt-channel-broker.yaml"
wait_deployments knative-eventing

# ---------------------------------------------------------------- KServe (Standard mode)
log "KServe ${KSERVE_VERSION}"
helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd \
  --version "${KSERVE_VERSION}" --namespace kserve --create-namespace --wait --timeout "${WAIT}"
helm upgrade --install kserve oci://ghcr.io/kserve/charts/kserve \
  --version "${KSERVE_VERSION}" --namespace kserve --wait --timeout "${WAIT}" \
  --set kserve.controller.deploymentMode=Standard \
  --set kserve.controller.gateway.ingressGateway.enableGatewayApi=false
wait_deployments kserve

# ---------------------------------------------------------------- DeepLens
log "building and deploying DeepLens (skaffold run -p dev)"
skaffold run -p dev --kube-context "kind-${CLUSTER_NAME}"

log "done"
cat <<MSG
Results API:  kubectl get ksvc results -n deeplens -o jsonpath='{.status.url}'  (port 8080 on this host)
Upload:       kubectl port-forward -n deeplens svc/deeplens-minio 9000:9000
              then put files under products/<sku>/ and videos/ in the bucket 'deeplens'
Iterate:      skaffold dev -p dev
Tear down:    kind delete cluster --name ${CLUSTER_NAME}
MSG
