"""Sharpness: telling a frame caught in motion blur from a sharp one of the same shot."""

from __future__ import annotations

import av
import cv2
import numpy as np
from synthkit import make_background, motion_blurred

from deeplens.vision.keyframes import frame_sharpness
from deeplens.vision.sharpness import is_blurred


def image_sharpness(image: np.ndarray) -> np.ndarray:
    """The sharpness the keyframe scan measures of a decoded frame showing ``image``."""
    return frame_sharpness(av.VideoFrame.from_ndarray(image, format="bgr24"))


def test_a_frame_in_motion_blur_is_blurred_next_to_a_sharp_one_of_the_shot():
    sharp = make_background(3)
    assert is_blurred(image_sharpness(motion_blurred(sharp, 9)), image_sharpness(sharp))


def test_two_sharp_frames_of_a_shot_are_not_blurred_next_to_each_other():
    wide = make_background(3, (1000, 540))
    first, later = wide[:, :960], wide[:, 40:]
    assert not is_blurred(image_sharpness(later), image_sharpness(first))
    assert not is_blurred(image_sharpness(first), image_sharpness(later))


def test_a_sharp_product_leaving_a_soft_scene_is_not_blur():
    soft = cv2.GaussianBlur(make_background(3), (0, 0), 2)
    with_product = soft.copy()
    with_product[100:300, 300:450] = make_background(5, (150, 200))
    assert not is_blurred(image_sharpness(soft), image_sharpness(with_product))
    assert image_sharpness(soft).mean() < 0.7 * image_sharpness(with_product).mean()  # what a whole-frame measure would call blur
