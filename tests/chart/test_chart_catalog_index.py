"""The CronJob that saves every tenant's catalog index."""

from __future__ import annotations


def _cronjob(rendered):
    (job,) = rendered.of_kind("CronJob")
    return job


def test_a_cronjob_saves_every_tenants_catalog_index_once_enough_changed(chart):
    job = _cronjob(chart.render({"catalogIndex": {"minChangedPhotos": 500}}))
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["deeplens", "index", "build", "--all-tenants", "--if-stale", "500"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_cronjob_reaches_the_database_and_the_bucket_as_the_steps_do(chart):
    rendered = chart.render()
    (container,) = _cronjob(rendered)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    step = next(iter(rendered.knative_services().values()))["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == step["envFrom"]
    names = {entry["name"] for entry in container["env"]}
    assert {"DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= names


def test_the_cronjob_can_be_turned_off(chart):
    assert chart.render({"catalogIndex": {"enabled": False}}).of_kind("CronJob") == []
