"""Object storage (MinIO and its bucket notifications, or an external S3), PostgreSQL, Redis, Secrets."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from chartkit import NAMESPACE, RELEASE, VALUE_SETS

MINIO = f"{RELEASE}-minio"


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def minio_container(rendered):
    return rendered.get("Deployment", MINIO)["spec"]["template"]["spec"]["containers"][0]


def setup_job(rendered):
    return rendered.get("Job", f"{MINIO}-setup")


# ----------------------------------------------------------------------------- MinIO


def test_minio_posts_bucket_notifications_to_the_ingest_service(defaults):
    env = env_of(minio_container(defaults))
    (target,) = [k.removeprefix("MINIO_NOTIFY_WEBHOOK_ENABLE_") for k in env if k.startswith("MINIO_NOTIFY_WEBHOOK_ENABLE_")]
    assert env[f"MINIO_NOTIFY_WEBHOOK_ENABLE_{target}"] == "on"
    assert env[f"MINIO_NOTIFY_WEBHOOK_ENDPOINT_{target}"] == f"http://ingest.{NAMESPACE}.svc.cluster.local"
    assert "ingest" in defaults.knative_services()


def test_minio_notifies_the_prefixed_ingest_service_when_services_are_prefixed(render):
    env = env_of(minio_container(render({"functionNamePrefix": "dl-"})))
    assert f"http://dl-ingest.{NAMESPACE}.svc.cluster.local" in env.values()


def test_minio_queues_undelivered_notifications_on_its_persistent_volume(defaults):
    deployment = defaults.get("Deployment", MINIO)
    c = minio_container(defaults)
    env = env_of(c)
    (queue_dir,) = [v for k, v in env.items() if k.startswith("MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_")]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    (mount,) = [path for path in mounts if queue_dir.startswith(path + "/")]
    assert volumes[mounts[mount]]["persistentVolumeClaim"]["claimName"] == MINIO
    assert defaults.get("PersistentVolumeClaim", MINIO)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # one writer on a ReadWriteOnce volume


def test_the_setup_hook_runs_after_install_and_upgrade(defaults):
    annotations = setup_job(defaults)["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]


def test_the_setup_hook_subscribes_the_ingest_target_to_puts_and_deletes_under_products_and_videos(defaults):
    c = setup_job(defaults)["spec"]["template"]["spec"]["containers"][0]
    env = env_of(c)
    script = c["args"][0]
    (target,) = [k.removeprefix("MINIO_NOTIFY_WEBHOOK_ENABLE_") for k in env_of(minio_container(defaults)) if "ENABLE_" in k]
    assert env["TARGET_ARN"] == f"arn:minio:sqs::{target}:webhook"
    assert env["PREFIXES"].split() == ["products/", "videos/"]
    assert env["BUCKET"] == defaults.config()["DEEPLENS_BUCKET"]
    assert 'mc mb --ignore-existing "deeplens/$BUCKET"' in script
    assert 'mc event add --ignore-existing --event put,delete --prefix "$prefix" "deeplens/$BUCKET" "$TARGET_ARN"' in script
    assert "for prefix in $PREFIXES" in script


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell here")
def test_the_setup_hook_script_is_valid_shell(defaults):
    script = setup_job(defaults)["spec"]["template"]["spec"]["containers"][0]["args"][0]
    subprocess.run(["sh", "-n", "-c", script], check=True)


def test_the_setup_hook_reaches_minio_with_the_steps_credentials(defaults):
    env = env_of(setup_job(defaults)["spec"]["template"]["spec"]["containers"][0])
    assert env["S3_ENDPOINT_URL"] == defaults.config()["S3_ENDPOINT_URL"]
    minio_env = env_of(minio_container(defaults))
    assert env["AWS_ACCESS_KEY_ID"] == minio_env["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio_env["MINIO_ROOT_PASSWORD"]


def test_the_steps_reach_the_in_chart_minio(defaults):
    service = defaults.get("Service", MINIO)
    port = {p["name"]: p["port"] for p in service["spec"]["ports"]}["s3"]
    assert defaults.config()["S3_ENDPOINT_URL"] == f"http://{MINIO}.{NAMESPACE}.svc.cluster.local:{port}"


def test_deeplens_does_not_announce_its_own_writes_when_minio_does(defaults):
    assert defaults.config()["DEEPLENS_S3_ANNOUNCE"] == "false"


# ----------------------------------------------------------------------------- external S3 / PostgreSQL


def test_an_external_s3_replaces_minio_and_its_setup_hook(render):
    rendered = render(VALUE_SETS["external-s3-and-postgresql"])
    assert [d for d in rendered.docs if "minio" in d["metadata"]["name"]] == []
    assert rendered.config()["S3_ENDPOINT_URL"] == "https://s3.eu-west-1.amazonaws.com"
    assert rendered.config()["DEEPLENS_BUCKET"] == "acme-deeplens"


def test_deeplens_announces_its_own_writes_to_an_external_s3(render):
    assert render(VALUE_SETS["external-s3-and-postgresql"]).config()["DEEPLENS_S3_ANNOUNCE"] == "true"


def test_store_announcements_can_be_set_explicitly(render):
    values = {"s3": {**VALUE_SETS["external-s3-and-postgresql"]["s3"], "announce": False}}
    assert render(values).config()["DEEPLENS_S3_ANNOUNCE"] == "false"


def test_external_s3_keys_go_into_the_secret(render):
    (secret,) = render(VALUE_SETS["external-s3-and-postgresql"]).of_kind("Secret")
    assert secret["stringData"]["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"
    assert secret["stringData"]["AWS_SECRET_ACCESS_KEY"] == "example-secret"


def test_an_external_s3_without_keys_leaves_credentials_to_the_sdk(render):
    values = {"s3": {"external": True, "endpoint": "https://s3.amazonaws.com"}}
    rendered = render(values)
    (secret,) = rendered.of_kind("Secret")
    assert "AWS_ACCESS_KEY_ID" not in secret["stringData"]
    env = rendered.knative_services()["ingest"]["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert refs["AWS_ACCESS_KEY_ID"]["optional"] is True and refs["AWS_SECRET_ACCESS_KEY"]["optional"] is True
    assert refs["DATABASE_URL"].get("optional") is None


def test_an_external_postgresql_replaces_the_statefulset(render):
    rendered = render(VALUE_SETS["external-s3-and-postgresql"])
    assert rendered.of_kind("StatefulSet") == []
    assert [d for d in rendered.docs if "postgresql" in d["metadata"]["name"]] == []
    (secret,) = rendered.of_kind("Secret")
    assert secret["stringData"]["DATABASE_URL"] == "postgresql://deeplens:pw@db.example.com:5432/deeplens"
    assert "POSTGRES_PASSWORD" not in secret["stringData"]


def test_an_existing_secret_replaces_the_charts_secret_everywhere(render):
    rendered = render({"credentials": {"existingSecret": "deeplens-prod"}})
    assert rendered.of_kind("Secret") == []
    names = set()
    for doc in rendered.docs:
        spec = (doc.get("spec") or {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", []) if "valueFrom" in e}
    assert names == {"deeplens-prod"}


# ----------------------------------------------------------------------------- PostgreSQL


def test_postgresql_runs_pgvector_on_a_persistent_volume(defaults):
    sts = defaults.get("StatefulSet", f"{RELEASE}-postgresql")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["image"].startswith("pgvector/pgvector:")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] in {m["name"] for m in c["volumeMounts"]}
    assert sts["spec"]["serviceName"] in defaults.names("Service")


def test_the_database_url_names_the_postgresql_service_user_database_and_password(defaults):
    (secret,) = defaults.of_kind("Secret")
    data = secret["stringData"]
    host = f"{RELEASE}-postgresql.{NAMESPACE}.svc.cluster.local"
    assert data["DATABASE_URL"] == f"postgresql://deeplens:{data['POSTGRES_PASSWORD']}@{host}:5432/deeplens"
    env = env_of(defaults.get("StatefulSet", f"{RELEASE}-postgresql")["spec"]["template"]["spec"]["containers"][0])
    assert env["POSTGRES_PASSWORD"]["secretKeyRef"]["key"] == "POSTGRES_PASSWORD"
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("deeplens", "deeplens")


def test_default_passwords_are_stable_across_upgrades_and_differ_between_releases(render):
    def passwords(rendered):
        (secret,) = rendered.of_kind("Secret")
        return secret["stringData"]["POSTGRES_PASSWORD"], secret["stringData"]["AWS_SECRET_ACCESS_KEY"]

    first, again = passwords(render()), passwords(render({"tenant": "other"}))
    elsewhere = passwords(render(namespace="staging"))
    assert first == again
    assert first[0] != elsewhere[0] and first[1] != elsewhere[1]
    assert first[0] != first[1] and all(len(p) >= 32 for p in first)


def test_given_passwords_replace_the_derived_ones(render):
    rendered = render({"postgresql": {"auth": {"password": "s3cret-pg-pass"}}, "minio": {"rootPassword": "s3cret-minio"}})
    (secret,) = rendered.of_kind("Secret")
    assert secret["stringData"]["POSTGRES_PASSWORD"] == "s3cret-pg-pass"
    assert ":s3cret-pg-pass@" in secret["stringData"]["DATABASE_URL"]
    assert secret["stringData"]["AWS_SECRET_ACCESS_KEY"] == "s3cret-minio"
    assert "WARNING" not in rendered.notes


def test_the_notes_warn_about_derived_passwords(defaults):
    assert "WARNING" in defaults.notes and "production" in defaults.notes


# ----------------------------------------------------------------------------- Redis


def test_redis_is_deployed_as_a_bounded_cache_by_default(defaults):
    deployment = defaults.get("Deployment", f"{RELEASE}-redis")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert defaults.config()["DEEPLENS_REDIS_URL"] == f"redis://{RELEASE}-redis.{NAMESPACE}.svc.cluster.local:6379/0"


def test_redis_off_renders_no_redis_and_no_redis_url(render):
    rendered = render(VALUE_SETS["redis-off"])
    assert [d for d in rendered.docs if "redis" in d["metadata"]["name"]] == []
    assert "DEEPLENS_REDIS_URL" not in rendered.config()


def test_an_external_redis_url_replaces_the_deployment(render):
    rendered = render({"redis": {"externalUrl": "rediss://cache.example.com:6380/2"}})
    assert f"{RELEASE}-redis" not in rendered.names("Deployment")
    assert rendered.config()["DEEPLENS_REDIS_URL"] == "rediss://cache.example.com:6380/2"


def test_minio_signs_its_notifications_with_the_token_ingest_checks(defaults):
    minio = {e["name"]: e for e in minio_container(defaults)["env"]}
    (token,) = [e for name, e in minio.items() if name.startswith("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_")]
    ingest = next(s for name, s in defaults.knative_services().items() if name.endswith("ingest"))
    checked = {e["name"]: e for e in ingest["spec"]["template"]["spec"]["containers"][0]["env"]}["DEEPLENS_WEBHOOK_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == checked["valueFrom"]["secretKeyRef"]
    secret = defaults.get("Secret", checked["valueFrom"]["secretKeyRef"]["name"])
    assert len(secret["stringData"]["DEEPLENS_WEBHOOK_TOKEN"]) >= 32
