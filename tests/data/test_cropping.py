"""The body box of a depth clip and its square crop, on synthetic frames with a known body."""

from __future__ import annotations

import re

import numpy as np
import pytest

from harkd.data.cropping import body_box, crop_square
from harkd.errors import DataWarning, InputError


def _clip(h=60, w=80, t=5):
    return np.zeros((t, h, w), np.uint16)


def test_box_is_the_union_over_the_clip_made_square_around_its_centre():
    x = _clip()
    x[0, 10:20, 30:34] = 2000  # the body moves: the union spans rows 10..39, cols 30..41
    x[3, 30:40, 36:42] = 2500
    assert body_box(x) == (10, 40, 21, 51)  # 30 x 12 tight box -> 30 x 30, centre (25, 36) kept
    crop = crop_square(x, body_box(x))
    assert crop.shape == (5, 30, 30) and crop.dtype == np.uint16
    assert crop.sum() == x.sum()  # nothing of the body cut off
    np.testing.assert_array_equal(crop[3, 20:30, 15:21], 2500)


def test_margin_widens_the_square_on_each_side():
    x = _clip()
    x[:, 20:30, 35:45] = 1  # 10 x 10
    assert body_box(x) == (20, 30, 35, 45)
    assert body_box(x, margin=0.2) == (18, 32, 33, 47)  # side 10 * 1.4 = 14


def test_box_touching_the_frame_edge_is_padded_with_zeros():
    x = _clip()
    x[:, 0:50, 76:80] = 7  # a tall body at the right edge: 50 x 4 -> 50 x 50 around column 78
    box = body_box(x)
    assert box == (0, 50, 53, 103)
    crop = crop_square(x, box)
    assert crop.shape == (5, 50, 50)
    np.testing.assert_array_equal(crop[:, :, 23:27], 7)  # frame columns 76..79
    assert crop[:, :, 27:].sum() == 0 and crop[:, :, :23].sum() == 0  # outside the frame: zeros
    assert crop.sum() == x.sum()
    corner = crop_square(x, (-5, 5, -5, 5))  # a box over the top-left corner
    assert corner.shape == (5, 10, 10) and corner[:, :5, :].sum() == 0 and corner[:, :, :5].sum() == 0


def test_all_zero_clip_keeps_the_whole_frame_and_warns():
    x = _clip()
    with pytest.warns(DataWarning, match=re.escape(
            "body crop: the clip has no pixel with depth > 0 (5 frames of 60 x 80); the whole frame is kept")):
        box = body_box(x)
    assert box == (0, 60, 0, 80)
    assert crop_square(x, box) is x


def test_bad_arguments():
    with pytest.raises(InputError, match=re.escape("margin must be a number >= 0, got -0.1")):
        body_box(np.ones((2, 4, 4)), margin=-0.1)
    with pytest.raises(InputError, match=re.escape("frames must be (..., H, W) with H, W >= 1, got shape (4,)")):
        body_box(np.ones(4))
    with pytest.raises(InputError, match=re.escape("box must have y1 > y0 and x1 > x0, got (3, 3, 0, 4)")):
        crop_square(np.ones((2, 4, 4)), (3, 3, 0, 4))
