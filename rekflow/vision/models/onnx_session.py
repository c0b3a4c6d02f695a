"""One way to open an ONNX model for the local backend."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

import onnxruntime as ort


def cpu_session(model: Path | str | Traversable) -> ort.InferenceSession:
    """A CPU session without onnxruntime's memory arena: the arena keeps the peak of every
    concurrent run for the life of the process, which with four features in parallel over a
    folder of photos costs hundreds of MB for inputs of a few hundred KB."""
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
