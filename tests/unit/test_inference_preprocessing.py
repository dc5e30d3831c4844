"""Image checks and resizing shared by the back ends (no model is loaded here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeplens.errors import Unsupported
from inference.local_embedder import LocalEmbedder
from inference.preprocessing import IMAGENET_MEAN, IMAGENET_STD, resize_image, to_array, to_tensor


def frame(h: int = 90, w: int = 160) -> np.ndarray:
    image = np.full((h, w, 3), 200, dtype=np.uint8)
    image[:, :10] = (255, 0, 0)  # a blue strip at the left edge (BGR)
    return image


@pytest.mark.parametrize("mode", ["squash", "shortest", "longest"])
def test_every_resize_mode_gives_a_square_of_the_input_size(mode):
    assert resize_image(frame(), 64, mode).shape == (64, 64, 3)


def test_squash_keeps_the_frame_edges_in_view_and_shortest_crops_them():
    assert resize_image(frame(), 64, "squash")[:, 0, 0].min() > 200
    assert resize_image(frame(), 64, "shortest")[:, 0, 0].max() < 220


def test_longest_pads_with_black_above_and_below_a_wide_frame():
    out = resize_image(frame(), 64, "longest")
    assert out[0].max() == 0 and out[-1].max() == 0 and out[32, 32].min() > 0


def test_tensor_is_rgb_normalised_nchw_float32():
    blue = np.zeros((8, 8, 3), dtype=np.uint8)
    blue[..., 0] = 255  # BGR blue
    tensor = to_tensor([blue], 8, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (1, 3, 8, 8)
    assert tensor[0, 2].min() == 1.0 and tensor[0, :2].max() == 0.0  # channel 2 (blue in RGB) is full


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_each_pixel_is_normalised_as_rgb_over_255_less_the_mean_over_the_std():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (90, 160, 3), dtype=np.uint8), rng.integers(0, 256, (120, 70, 3), dtype=np.uint8)]
    batch = np.stack([resize_image(image, 64) for image in images])[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    mean, std = (np.asarray(v, np.float32).reshape(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    assert np.array_equal(to_array(images, 64, IMAGENET_MEAN, IMAGENET_STD), (batch / np.float32(255.0) - mean) / std)


def test_asking_for_cuda_without_a_gpu_raises_unsupported():
    with pytest.raises(Unsupported, match="CUDA"):
        LocalEmbedder(device="cuda").load()
