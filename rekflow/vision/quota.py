"""Rekognition's TPS quotas, offline: one token bucket per operation, and a record of every call it judged.

Rekognition limits each operation to a number of transactions per second per account and answers a
call beyond it with ProvisionedThroughputExceededException ("The number of requests exceeded your
throughput limit", botocore's Rekognition model; HTTP 400). AWS does not say how large a burst it
admits: here a bucket holds `burst_tokens` (by default one second of the quota) and refills at the
quota's rate, on the monotonic clock, so a burst drains it and the rest are paced at the quota.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class TokenBucket:
    """`rate_per_second` tokens a second, at most `capacity` held; starts full. Thread-safe."""

    def __init__(self, rate_per_second: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"a token bucket needs a positive rate, not {rate_per_second}")
        if capacity < 1:
            raise ValueError(f"a token bucket must hold at least one token, not {capacity}")
        self.rate_per_second = rate_per_second
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = capacity
        self._refilled_at = clock()

    def try_take(self) -> bool:
        """Take one token if there is one; False means the call is over the quota."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._refilled_at) * self.rate_per_second)
            self._refilled_at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass
class OperationCalls:
    """When each call of one operation came, and whether its quota admitted it."""

    admitted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)

    @property
    def first(self) -> float:
        """When the first call came, admitted or not."""
        return min(self.admitted[:1] + self.refused[:1])


class TpsQuotas:
    """A token bucket for each operation in `rate_per_second`; operations without one are never limited."""

    def __init__(
        self,
        rate_per_second: Mapping[str, float],
        burst_tokens: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        burst = dict(burst_tokens or {})
        self._clock = clock
        self._buckets = {
            operation: TokenBucket(rate, burst.get(operation, rate), clock)
            for operation, rate in rate_per_second.items()
        }
        self._lock = threading.Lock()
        self.calls = {operation: OperationCalls() for operation in self._buckets}

    def admit(self, operation: str) -> bool:
        bucket = self._buckets.get(operation)
        if bucket is None:
            return True
        with self._lock:  # judged one at a time, so each operation's record is in time order
            admitted = bucket.try_take()
            (self.calls[operation].admitted if admitted else self.calls[operation].refused).append(self._clock())
        return admitted


def share_of_quota(calls: OperationCalls, rate_per_second: float, burst_tokens: float) -> float:
    """The admitted calls as a share of all the quota could admit between the first call and the last
    admitted one: the burst the bucket held, plus its refill over that window. 1.0: the quota was used
    to the full; less: the callers left it idle (waiting out their back-off) while calls were pending."""
    if not calls.admitted:
        return 0.0
    window = calls.admitted[-1] - calls.first
    return len(calls.admitted) / (burst_tokens + rate_per_second * window)
