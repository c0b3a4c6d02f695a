"""The labels model as `make setup` converts it, without torch (rekflow/vision/models/efficientnet_export.py).

Always: the conversion reproduces the pinned ONNX file, its input is what labels.py feeds, the reader refuses
anything but a state dict, and the top class on each bundled photo is the expected one.
With torch importable (it is not installed by `make setup`; `pip install torch` to run them, else they skip and
say so): the checkpoint reads bit-identically to torch.load(weights_only=True), and on the sample photos the
converted model gives the same top-5 classes as torch's own ONNX export of the same network, to about 1e-6.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rekflow.media.samples import SAMPLES
from rekflow.vision.models import efficientnet_export, labels
from rekflow.vision.models.onnx_session import cpu_session

pytestmark = pytest.mark.models
PHOTOS = ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg")
# Top ImageNet-1k class of each photo and the Rekognition-style name label_map.json gives it (None: unmapped).
EXPECTED_TOP1 = {
    "astronaut.jpg": (610, None),  # jersey, T-shirt; the person comes from the face model, not the classifier
    "cat.jpg": (285, "Cat"),  # Egyptian cat
    "coffee.jpg": (967, "Coffee"),  # espresso
    "rocket.jpg": (744, "Rocket"),  # projectile, missile
}
# What the torch-based setup wrote (and labels.py pinned) with torch 2.13.0; on these photos the converted model
# differed from it by at most 6e-7 in any class probability.
TORCH_2_13_EXPORT_SHA256 = "7ab9c52c0dda9c278bdb3f27b21f8685a128459ecaa7a83c3ca5d02ab9272dd1"


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("labels") / "efficientnet-lite0.onnx"
    efficientnet_export.export(path)
    return path


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    images = {}
    for sample in SAMPLES:
        if sample.name in PHOTOS:
            with Image.open(io.BytesIO(sample.make())) as image:
                images[sample.name] = labels.preprocess(image.convert("RGB"))
    assert set(images) == set(PHOTOS)
    return images


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


@pytest.mark.parametrize("photo", PHOTOS)
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


# --- with torch: the reference these were checked against -------------------------------------------------------


def _torch():
    return pytest.importorskip(
        "torch",
        reason="torch is not installed (make setup no longer installs it): "
        "the comparison with torch's own export is skipped",
    )


def test_checkpoint_reads_as_torch_reads_it():
    torch = _torch()
    path = efficientnet_export.checkpoint_path()
    ours = efficientnet_export.load_state_dict(path)
    reference = torch.load(path, map_location="cpu", weights_only=True)
    assert list(ours) == list(reference) and len(ours) == 296
    for name, tensor in reference.items():
        array = tensor.numpy()
        assert (ours[name].dtype, ours[name].shape) == (array.dtype, array.shape), name
        assert ours[name].tobytes() == array.tobytes(), name


def _torch_export(torch, output: Path) -> None:
    """The network as the torch-based export (before this converter) defined it, exported by torch.onnx."""
    from torch import nn

    def bn(channels):
        return nn.BatchNorm2d(channels, eps=1e-3)

    class MBConv(nn.Module):
        def __init__(self, expand, kernel, stride, cin, cout):
            super().__init__()
            hidden = cin * expand
            self.expand = expand != 1
            if self.expand:
                self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
                self._bn0 = bn(hidden)
            self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
            self._bn1 = bn(hidden)
            self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
            self._bn2 = bn(cout)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = nn.functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
            y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
            y = self._bn2(self._project_conv(y))
            return x + y if self.residual else y

    class EfficientNetLite0(nn.Module):
        def __init__(self):
            super().__init__()
            self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
            self._bn0 = bn(32)
            self._blocks = nn.ModuleList(
                MBConv(expand, kernel, stride if i == 0 else 1, cin if i == 0 else cout, cout)
                for expand, kernel, stride, cin, cout, repeats in efficientnet_export.STAGES
                for i in range(repeats)
            )
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = nn.functional.relu6(self._bn1(self._conv_head(x)))
            return torch.softmax(self._fc(x.mean(dim=(2, 3))), dim=1)

    model = EfficientNetLite0()
    model.load_state_dict(
        torch.load(efficientnet_export.checkpoint_path(), map_location="cpu", weights_only=True), strict=True
    )
    model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter, as the old setup used it
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 224, 224),),
            str(output),
            input_names=["pixels"],
            output_names=["probabilities"],
            opset_version=17,
            dynamo=False,
        )


def test_same_top5_as_torchs_own_export(converted, photos, tmp_path):
    torch = _torch()
    reference = tmp_path / "torch-export.onnx"
    _torch_export(torch, reference)
    if torch.__version__.split("+")[0] == "2.13.0":  # the torch `make setup` used to install: the very file it made
        assert hashlib.sha256(reference.read_bytes()).hexdigest() == TORCH_2_13_EXPORT_SHA256
    worst = 0.0
    for photo, tensor in photos.items():
        ours, theirs = run(converted, tensor), run(reference, tensor)
        assert list(np.argsort(ours)[::-1][:5]) == list(np.argsort(theirs)[::-1][:5]), photo
        worst = max(worst, float(np.abs(ours - theirs).max()))
    assert worst < 5e-6, worst
