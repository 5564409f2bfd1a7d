"""Elliptical dilation and erosion against OpenCV, which the reference uses for its bands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maggie.ops.morphology import dilate, ellipse_kernel, erode

cv2 = pytest.importorskip("cv2", reason="OpenCV (maggie[eval]) is the ground truth here")


def _cv2(op, image: np.ndarray, size: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return op(image, kernel)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 8, 13, 15, 16, 30])
def test_ellipse_kernel_is_opencvs(size: int) -> None:
    expected = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)).astype(bool)
    np.testing.assert_array_equal(ellipse_kernel(size), expected)


def _slices(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Slices that exercise the per-slice bounding boxes: sparse specks, a blob touching the
    border, an empty slice, a single pixel in a corner and a full slice."""
    sparse = rng.random((h, w)) < 0.01
    blob = np.zeros((h, w), bool)
    blob[h // 3 :, : w // 4] = True
    corner = np.zeros((h, w), bool)
    corner[h - 1, w - 1] = True
    return np.stack([sparse, blob, np.zeros((h, w), bool), corner, np.ones((h, w), bool)])


@pytest.mark.parametrize("size", [2, 3, 6, 7, 13, 15, 16])
def test_binary_dilate_and_erode_match_opencv(size: int) -> None:
    rng = np.random.default_rng(size)
    masks = _slices(rng, 37, 53)
    got_dilate = dilate(torch.from_numpy(masks).view(1, 5, 37, 53), size)
    got_erode = erode(torch.from_numpy(masks), size)
    assert got_dilate.dtype == torch.bool and got_dilate.shape == (1, 5, 37, 53)
    for i, mask in enumerate(masks.astype(np.uint8)):
        np.testing.assert_array_equal(got_dilate[0, i].numpy(), _cv2(cv2.dilate, mask, size).astype(bool), f"{i}")
        np.testing.assert_array_equal(got_erode[i].numpy(), _cv2(cv2.erode, mask, size).astype(bool), f"{i}")


@pytest.mark.parametrize("size", [3, 8, 15])
def test_grey_dilate_and_erode_match_opencv(size: int) -> None:
    values = np.random.default_rng(size).random((3, 29, 41)).astype(np.float32)
    got_dilate, got_erode = dilate(torch.from_numpy(values), size), erode(torch.from_numpy(values), size)
    for i, image in enumerate(values):
        np.testing.assert_array_equal(got_dilate[i].numpy(), _cv2(cv2.dilate, image, size))
        np.testing.assert_array_equal(got_erode[i].numpy(), _cv2(cv2.erode, image, size))
