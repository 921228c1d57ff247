"""Which faces are trustworthy enough to be grouped with others.

A face that fails stays in the library and in search results; it only never seeds or
joins a group, because a bad encoding is what glues two people's groups together.

Thresholds come from the labelled development photos encoded with dlib (HOG, upsample 1):
every real face, down to 37 px wide and a Laplacian variance of 22 (a half-size, JPEG-q70
copy of a group photo), sat within 0.44 of its own person's mean and at least 0.54 from
anyone else; the two encodings below 5 (a blurred background face and a false detection
on a recompressed copy) are the ones that sat near strangers.
"""

from __future__ import annotations

import numpy as np

# Face width in pixels of the full photo; below this dlib's 150x150 chip is mostly upscaling.
MIN_GROUP_FACE_PX = 32
# Variance of the Laplacian of the grey 150x150 face chip; motion blur and false
# detections measured 3, the blurriest real faces 22.
MIN_GROUP_SHARPNESS = 12.0
# HOG margin; the detector only reports negative margins when asked to lower its threshold.
MIN_GROUP_SCORE = 0.0


def is_groupable(
    size_px: np.ndarray | float,
    sharpness: np.ndarray | float,
    score: np.ndarray | float,
    *,
    min_size_px: float = MIN_GROUP_FACE_PX,
    min_sharpness: float = MIN_GROUP_SHARPNESS,
    min_score: float = MIN_GROUP_SCORE,
) -> np.ndarray:
    """True where a face may take part in grouping; arrays broadcast, scalars give a 0-d array.

    NaN in any input (an unmeasured value) counts as not groupable.
    """
    size_px = np.asarray(size_px, dtype=np.float64)
    sharpness = np.asarray(sharpness, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    return (size_px >= min_size_px) & (sharpness >= min_sharpness) & (score >= min_score)
