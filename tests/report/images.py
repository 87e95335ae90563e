"""Checks of PNG files shared by the figure tests."""

import numpy as np
from PIL import Image


def assert_png(path, min_size=(600, 400)):
    image = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert image.shape[1] >= min_size[0] and image.shape[0] >= min_size[1]
    assert image.std() > 10, f"{path.name} looks blank"
