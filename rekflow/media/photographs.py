"""The photographs every sample and benchmark is made from: scikit-image's, read as the files it ships."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image

# Photographs that ship inside the scikit-image wheel (public domain or CC0, see its data/README.txt).
_BUNDLED_PHOTOS = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
}


def bundled_photo(name: str) -> Image.Image:
    """One of scikit-image's test photographs, read as the file it ships as (pixel for pixel what
    skimage.data returns). No scikit-image code runs, so it is installed without its scientific
    dependencies: scipy alone would be 140 MB of the environment."""
    spec = importlib.util.find_spec("skimage")  # finds the package without importing it
    assert spec and spec.submodule_search_locations, "scikit-image is not installed (make setup installs it)"
    return Image.open(Path(spec.submodule_search_locations[0]) / "data" / _BUNDLED_PHOTOS[name]).convert("RGB")
