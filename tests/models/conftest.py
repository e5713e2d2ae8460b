"""Fixtures shared by the model tests."""

import numpy as np
import pytest
from PIL import Image

from vqual.weights import asset_path


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    """The bundled sample photograph (kodim23, 500x500 JPEG) as HxWx3 uint8 RGB."""
    return np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))
