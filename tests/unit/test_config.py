"""One settings object: every variable a field, and a misspelt DEEPLENS_* variable refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from deeplens.config import (
    KSERVE_MODEL_DIR,
    Settings,
    UnknownSetting,
    check_environment,
    known_variables,
    setting_groups,
    unknown_variables,
)


def test_a_misspelt_variable_stops_settings_naming_the_nearest_setting(monkeypatch):
    monkeypatch.setenv("DEEPLENS_MATCH_TRESHOLD", "0.5")
    with pytest.raises(UnknownSetting) as raised:
        Settings()
    assert str(raised.value) == "DEEPLENS_MATCH_TRESHOLD is not a DeepLens setting; did you mean DEEPLENS_MATCH_THRESHOLD?"


def test_settings_given_in_code_are_checked_against_the_environment_too(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLENS_RESIZE_MOD", "shortest")
    with pytest.raises(UnknownSetting, match="did you mean DEEPLENS_RESIZE_MODE"):
        Settings(home=tmp_path)


def test_a_misspelt_setting_given_in_code_is_refused_too():
    with pytest.raises(ValidationError, match="match_treshold"):
        Settings(match_treshold=0.5)


def test_every_unknown_variable_is_named_once():
    environ = {"DEEPLENS_WORKRES": "2", "DEEPLENS_BATCHSIZE": "4", "DEEPLENS_HOME": "/tmp/x"}
    assert unknown_variables(environ) == [
        "DEEPLENS_BATCHSIZE is not a DeepLens setting; did you mean DEEPLENS_BATCH_SIZE?",
        "DEEPLENS_WORKRES is not a DeepLens setting; did you mean DEEPLENS_WORKERS?",
    ]


def test_a_name_like_no_setting_points_to_the_settings_page():
    (problem,) = unknown_variables({"DEEPLENS_ZZZ": "1"})
    assert problem == "DEEPLENS_ZZZ is not a DeepLens setting (docs/configuration.md lists the settings)"


def test_names_are_matched_in_any_case_as_pydantic_reads_them():
    assert unknown_variables({"deeplens_home": "/tmp/x", "Deeplens_Workers": "3"}) == []
    assert unknown_variables({"deeplens_homee": "/tmp/x"}) == [
        "deeplens_homee is not a DeepLens setting; did you mean DEEPLENS_HOME?"
    ]


def test_other_variables_and_the_settings_own_names_pass():
    environ = {"PATH": "/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "DATABASE_URL": "postgresql://x",
               "S3_ENDPOINT_URL": "http://minio:9000", "DEEPLENS_MATCH_THRESHOLD": "0.5", "DEEPLENS_HTTP_PORT": "9000"}
    check_environment(environ)


@pytest.mark.parametrize("name, value", [
    ("DEEPLENS_POSTGRESQL_SERVICE_HOST", "10.96.0.12"),
    ("DEEPLENS_POSTGRESQL_SERVICE_PORT", "5432"),
    ("DEEPLENS_POSTGRESQL_SERVICE_PORT_POSTGRESQL", "5432"),
    ("DEEPLENS_POSTGRESQL_PORT", "tcp://10.96.0.12:5432"),
    ("DEEPLENS_POSTGRESQL_PORT_5432_TCP", "tcp://10.96.0.12:5432"),
    ("DEEPLENS_POSTGRESQL_PORT_5432_TCP_PROTO", "tcp"),
    ("DEEPLENS_POSTGRESQL_PORT_5432_TCP_PORT", "5432"),
    ("DEEPLENS_POSTGRESQL_PORT_5432_TCP_ADDR", "10.96.0.12"),
])
def test_the_variables_kubernetes_sets_for_the_releases_services_pass(name, value):
    check_environment({name: value})


def test_a_port_variable_that_is_no_service_link_is_refused():
    with pytest.raises(UnknownSetting, match="DEEPLENS_HTTP_PROT is not a DeepLens setting; did you mean DEEPLENS_HTTP_PORT"):
        check_environment({"DEEPLENS_HTTP_PROT": "9000"})
    assert unknown_variables({"DEEPLENS_GRPC_PORT": "8081"})  # no tcp:// URL: not a service link


def test_the_variables_read_include_the_aliases_and_the_model_servers():
    assert {"DATABASE_URL", "DEEPLENS_DATABASE_URL", "S3_ENDPOINT_URL", "DEEPLENS_HOME", "DEEPLENS_HTTP_PORT",
            "DEEPLENS_BATCH_WAIT_MS", "DEEPLENS_MAX_ITEMS_PER_REQUEST", "DEEPLENS_RESIZE_MODE"} <= known_variables()


def test_every_setting_belongs_to_exactly_one_group():
    names = [name for group in setting_groups() for name in group.model_fields]
    assert sorted(names) == sorted(Settings.model_fields)


def test_the_model_server_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEEPLENS_HTTP_PORT", "9001")
    monkeypatch.setenv("DEEPLENS_BATCH_WAIT_MS", "2.5")
    monkeypatch.setenv("DEEPLENS_MAX_ITEMS_PER_REQUEST", "8")
    s = Settings()
    assert (s.http_port, s.batch_wait_ms, s.max_items_per_request) == (9001, 2.5, 8)


def test_the_model_server_options_default_to_its_settings():
    from inference.__main__ import build_parser

    args, _ = build_parser(Settings(http_port=9001, batch_wait_ms=2.5, max_items_per_request=8)).parse_known_args([])
    assert (args.http_port, args.batch_wait_ms, args.max_items) == (9001, 2.5, 8)


def test_the_checkpoint_directory_is_the_setting_else_kserves_mount(tmp_path):
    assert Settings(model_dir=tmp_path).checkpoints_dir == tmp_path
    assert Settings().checkpoints_dir == (KSERVE_MODEL_DIR if KSERVE_MODEL_DIR.is_dir() else None)


def test_one_model_call_uses_the_torch_threads_setting_else_the_cores_shared_by_the_workers():
    assert Settings(torch_threads=3, workers=2).model_threads == 3
    shared = Settings(workers=2)
    assert shared.model_threads == shared.threads_per_worker


def test_the_predictor_is_built_from_every_model_setting(tmp_path):
    from inference.local_embedder import LocalEmbedder

    settings = Settings(
        model="mobilenet_v2", device="cpu", half=True, batch_size=3, model_dir=tmp_path, pretrained="laion2b",
        torch_threads=2, resize_mode="longest", inference_engine="torch", model_cache_dir=tmp_path / "cache",
    )
    p = LocalEmbedder.from_settings(settings)
    assert (p.model_name, p._requested_device, p._requested_half, p.batch_size, p.model_dir, p.pretrained) == (
        "mobilenet_v2", "cpu", True, 3, tmp_path, "laion2b")
    assert (p.num_threads, p.resize_mode, p.engine, p.cache_dir) == (2, "longest", "torch", Path(tmp_path / "cache"))
    assert not p.ready
