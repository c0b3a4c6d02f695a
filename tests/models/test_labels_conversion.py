"""The labels model as `make setup` converts it, without torch (rekflow/vision/models/efficientnet_export.py).

The conversion reproduces the pinned ONNX file, its input is what labels.py feeds, the reader refuses anything but
a state dict, and the top class on each bundled photo is the expected one. What anchors it outside the converter
(torch's own top-5 of the checkpoint's network, recorded once) is in test_labels_reference.py.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from rekflow.vision.models import efficientnet_export, labels
from rekflow.vision.models.onnx_session import cpu_session

pytestmark = pytest.mark.models
# Top ImageNet-1k class of each photo and the Rekognition-style name label_map.json gives it (None: unmapped).
EXPECTED_TOP1 = {
    "astronaut.jpg": (422, None),  # barbell; the person comes from the face model, not the classifier
    "cat.jpg": (285, "Cat"),  # Egyptian cat
    "coffee.jpg": (967, "Coffee"),  # espresso
    "rocket.jpg": (657, "Rocket"),  # missile
}


def run(model: Path, tensor: np.ndarray) -> np.ndarray:
    return cpu_session(model).run(None, {"pixels": tensor})[0][0]


def test_conversion_reproduces_the_pinned_model(converted):
    assert hashlib.sha256(converted.read_bytes()).hexdigest() == labels.MODEL_SHA256


def test_converted_model_takes_what_labels_feeds_it(converted):
    import onnx

    model = onnx.load(str(converted))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "pixels" and [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 224, 224]
    assert out.name == "probabilities" and [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 1000]
    assert "BatchNormalization" not in {node.op_type for node in model.graph.node}


@pytest.mark.parametrize("photo", sorted(EXPECTED_TOP1))
def test_top_class_on_each_sample_photo(converted, photos, photo):
    probabilities = run(converted, photos[photo])
    assert abs(float(probabilities.sum()) - 1) < 1e-4
    index, name = EXPECTED_TOP1[photo]
    assert int(np.argmax(probabilities)) == index
    group = labels._groups().get(index)
    assert (group.name if group else None) == name


def test_checkpoint_pin_is_checked(tmp_path):
    other = tmp_path / "other.pth"
    other.write_bytes(efficientnet_export.checkpoint_path().read_bytes() + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        efficientnet_export.load_state_dict(other)


class _Shell:
    def __reduce__(self):
        import os

        return (os.system, ("echo should never run",))


@pytest.mark.parametrize("payload", [_Shell(), __import__("builtins").eval])
def test_reader_refuses_anything_but_a_state_dict(payload):
    magic = b"".join(
        pickle.dumps(value, protocol=2)
        for value in (efficientnet_export.LEGACY_MAGIC, efficientnet_export.LEGACY_PROTOCOL, {"little_endian": True})
    )
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        efficientnet_export.parse_legacy_checkpoint(magic + pickle.dumps(payload, protocol=2))
