"""The model registry and the predictor's settings (no weights are loaded here)."""

from __future__ import annotations

import pytest

from deeplens.config import Settings
from deeplens.errors import NotFound
from inference.checkpoints import CONFIG_FILE
from inference.local_embedder import LocalEmbedder
from inference.registry import DEFAULT_MODEL, get_spec, list_specs


def test_default_model_is_mobilenet_v2_with_1280_dims_and_no_text_tower():
    spec = get_spec(DEFAULT_MODEL)
    assert (spec.name, spec.dim, spec.supports_text, spec.family) == ("mobilenet_v2", 1280, False, "mobilenet")


def test_unknown_model_name_raises_not_found_listing_known_names():
    with pytest.raises(NotFound, match="mobilenet_v2"):
        get_spec("resnet-9000")


def test_predictor_for_unknown_model_raises_not_found_before_loading():
    with pytest.raises(NotFound):
        LocalEmbedder("no-such-model")


def test_unknown_open_clip_architecture_raises_not_found():
    with pytest.raises(NotFound, match="open_clip"):
        get_spec("open_clip:NoSuchArch-99")


def test_open_clip_dimension_comes_from_the_model_config():
    assert get_spec("open_clip:ViT-B-32").dim == 512
    assert get_spec("open_clip:ViT-L-14").dim == 768
    assert get_spec("open_clip:ViT-B-32").supports_text


def test_checkpoint_directory_config_decides_the_dimension(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(
        '{"arch": "ViT-B-32", "model_cfg": {"embed_dim": 48, "vision_cfg": {"image_size": 64}, "text_cfg": {}}}'
    )
    assert get_spec("open_clip:ViT-B-32", model_dir=tmp_path).dim == 48


def test_checkpoint_recorded_for_another_architecture_is_not_used(tmp_path):
    (tmp_path / CONFIG_FILE).write_text('{"arch": "other", "model_cfg": {"embed_dim": 8, "vision_cfg": {}, "text_cfg": {}}}')
    with pytest.raises(NotFound, match="other"):
        get_spec("open_clip:tiny", model_dir=tmp_path)


def test_list_specs_starts_with_the_default_and_names_are_unique():
    names = [s.name for s in list_specs()]
    assert names[0] == DEFAULT_MODEL and "open_clip:ViT-B-32" in names
    assert len(names) == len(set(names))


def test_settings_come_from_deeplens_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLENS_MODEL", "open_clip:ViT-B-32")
    monkeypatch.setenv("DEEPLENS_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("DEEPLENS_BATCH_SIZE", "4")
    monkeypatch.setenv("DEEPLENS_DEVICE", "cpu")
    predictor = LocalEmbedder.from_settings(Settings())
    assert (predictor.spec.name, predictor.batch_size, predictor.model_dir) == ("open_clip:ViT-B-32", 4, tmp_path)
    assert not predictor.ready
