"""The labels model converted afresh and the sample photos as it is fed them, shared by the conversion tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rekflow.media.samples import SAMPLES
from rekflow.vision.models import efficientnet_export, labels

PHOTOS = ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg")


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> Path:
    """The converter's output now (not the cached .cache/models file, which may predate a change to it)."""
    path = tmp_path_factory.mktemp("labels") / "efficientnet-lite0.onnx"
    efficientnet_export.export(path)
    return path


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Each sample photo as labels.preprocess makes it: the model's input tensor."""
    images = {}
    for sample in SAMPLES:
        if sample.name in PHOTOS:
            with Image.open(io.BytesIO(sample.make())) as image:
                images[sample.name] = labels.preprocess(image.convert("RGB"))
    assert set(images) == set(PHOTOS)
    return images
