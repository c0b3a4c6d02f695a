"""The interface every Rekognition backend answers to, and Rekognition's own errors."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Protocol


class RekognitionError(Exception):
    """An error Rekognition itself returns; `code` is the modelled error code (e.g. ThrottlingException)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Backend(Protocol):
    """Answers Rekognition operations with Rekognition's request and response shapes."""

    name: str

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run `operation` (e.g. DetectLabels) with its request parameters; raise RekognitionError on failure."""
        ...

    def close(self) -> None:
        """Finish or stop the work still running (video jobs) when the local runtime stops."""
        ...


class FaultPlan:
    """Errors to return instead of answering, for tests and drills: 'the next N DetectText calls throttle'."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned: dict[str, list[str]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)

    def inject(self, operation: str, error_code: str, times: int = 1) -> None:
        with self._lock:
            self._planned[operation].extend([error_code] * times)

    def take(self, operation: str) -> str | None:
        """Count the call and return the error planned for it, if any."""
        with self._lock:
            self.calls[operation] += 1
            planned = self._planned.get(operation)
            return planned.pop(0) if planned else None


class FaultInjectingBackend:
    """Wraps any backend so that planned Rekognition errors come first."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.faults = FaultPlan()

    @property
    def video(self) -> Any:
        """The inner backend's video job runner (for plans such as 'never publish the completion')."""
        return self.inner.video  # type: ignore[attr-defined]

    def close(self) -> None:
        self.inner.close()

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        error_code = self.faults.take(operation)
        if error_code:
            raise RekognitionError(error_code, f"Injected {error_code} for {operation}.")
        return self.inner.handle(operation, params)
