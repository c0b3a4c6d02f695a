"""The local side of a throttling burst: let its first calls through together, and see what the runtime added.

On AWS a burst's executions reach Rekognition within a fraction of a second; the local runtime brings
them there one after another (about 10 image executions a second on two cores). `BurstGate` holds the
first calls until every execution has made its own, then lets them all through at once, and keeps
when each call (one operation on one image) was attempted. From those times, `retry_stretch` says how
much longer the runtime took between a refusal and the next attempt than the Retry policy's own
wait: the share of the burst's time that is the runtime's, not the policy's.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from rekflow.vision.backend import Backend


class BurstGate:
    """A backend wrapper: once told to `hold`, holds the calls of those operations until `expected` of them
    are waiting, then lets every call through; records each call's attempts by operation and image."""

    def __init__(self, inner: Backend, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.name = inner.name
        self.timeout = timeout
        self.operations: set[str] = set()
        self.expected = 0
        self.arrived = 0
        self.opened = threading.Event()
        self.opened_at: float | None = None
        self.attempts: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._clock = clock
        self._lock = threading.Lock()

    def hold(self, operations: list[str], expected: int) -> None:
        self.operations, self.expected = set(operations), expected

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation not in self.operations:
            return self.inner.handle(operation, params)
        if not self.opened.is_set():
            with self._lock:
                self.arrived += 1
                if self.arrived >= self.expected:
                    self._open()
            if not self.opened.wait(self.timeout):
                with self._lock:  # an execution never got here: let the others go rather than hang
                    self._open()
        with self._lock:
            self.attempts[(operation, _image_of(params))].append(self._clock())
        return self.inner.handle(operation, params)

    def close(self) -> None:
        self.inner.close()

    def _open(self) -> None:
        if not self.opened.is_set():
            self.opened_at = self._clock()
            self.opened.set()


def _image_of(params: dict[str, Any]) -> str:
    """Which image a call is about: its S3 object (the workflow's calls), else its size in bytes."""
    image = params.get("Image", {})
    if "S3Object" in image:
        return json.dumps(image["S3Object"], sort_keys=True)
    return str(len(image.get("Bytes", b"")))


def mean_retry_wait(retrier: dict[str, Any], retry_number: int) -> float:
    """The mean wait before retry `retry_number` (0 for the first) under an ASL retrier: IntervalSeconds times
    BackoffRate per retry, capped at MaxDelaySeconds; FULL jitter waits uniformly up to that, so half of it
    on average. Defaults as the ASL specification gives them."""
    delay: float = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** retry_number
    delay = min(delay, retrier.get("MaxDelaySeconds", math.inf))
    return delay / 2 if retrier.get("JitterStrategy", "NONE") == "FULL" else delay


def retry_stretch(
    attempts: dict[tuple[str, str], list[float]], retriers: dict[str, dict[str, Any]], time_scale: float
) -> float:
    """Observed time between each call's attempts over the time its operation's retrier would wait on average,
    over the whole burst: 1.0 when the runtime adds nothing; 1.5 when it adds half again."""
    observed = expected = 0.0
    for (operation, _image), times in attempts.items():
        for number, (before, after) in enumerate(itertools.pairwise(times)):
            observed += after - before
            expected += mean_retry_wait(retriers[operation], number) * time_scale
    return observed / expected if expected else 1.0
