"""The burst gate and the retry stretch of the throttling bench."""

from __future__ import annotations

import threading

import pytest

from rekflow.bench.burst import BurstGate, mean_retry_wait, retry_stretch

ASL_RETRIER = {
    "ErrorEquals": ["Rekognition.ProvisionedThroughputExceededException"],
    "IntervalSeconds": 1,
    "MaxAttempts": 4,
    "BackoffRate": 2,
    "MaxDelaySeconds": 20,
    "JitterStrategy": "FULL",
}


@pytest.mark.parametrize(
    ("retrier", "waits"),
    [
        (ASL_RETRIER, [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]),  # full jitter: half the capped delay; capped at 20 s
        ({**ASL_RETRIER, "JitterStrategy": "NONE"}, [1, 2, 4, 8, 16, 20]),
        ({"ErrorEquals": ["States.ALL"]}, [1, 2, 4, 8, 16, 32]),  # the specification's defaults, no jitter
        ({**ASL_RETRIER, "MaxDelaySeconds": 1}, [0.5] * 6),
    ],
)
def test_the_mean_wait_follows_interval_backoff_cap_and_jitter(retrier: dict, waits: list[float]) -> None:
    assert [mean_retry_wait(retrier, n) for n in range(6)] == pytest.approx(waits)


def test_the_stretch_compares_the_gaps_between_attempts_with_the_retriers_mean_waits() -> None:
    retriers = {"DetectText": ASL_RETRIER}
    # Scaled x10: mean waits 5 s then 10 s. One call waited exactly that, another twice as long, a third once.
    attempts = {
        ("DetectText", "a"): [0.0, 5.0, 15.0],
        ("DetectText", "b"): [0.0, 10.0, 30.0],
        ("DetectText", "c"): [3.0],
    }
    assert retry_stretch(attempts, retriers, time_scale=10) == pytest.approx((15 + 30) / (15 + 15))
    assert retry_stretch({("DetectText", "c"): [3.0]}, retriers, time_scale=10) == 1.0


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def handle(self, operation: str, params: dict) -> dict:
        self.calls.append(operation)
        return {}

    def close(self) -> None:
        pass


def test_the_gate_holds_the_first_calls_until_all_have_come_then_lets_everything_through() -> None:
    inner = Recording()
    gate = BurstGate(inner, timeout=10)
    gate.hold(["DetectText"], expected=3)
    gate.handle("DetectLabels", {})  # not held
    image = {"Image": {"S3Object": {"Bucket": "b", "Name": "k"}}}
    waiting = [threading.Thread(target=gate.handle, args=("DetectText", image)) for _ in range(2)]
    for thread in waiting:
        thread.start()
    for thread in waiting:
        thread.join(timeout=0.2)
    assert inner.calls == ["DetectLabels"] and all(t.is_alive() for t in waiting)
    gate.handle("DetectText", image)  # the third: the gate opens
    for thread in waiting:
        thread.join(timeout=5)
    assert inner.calls == ["DetectLabels"] + ["DetectText"] * 3
    gate.handle("DetectText", image)  # once open, never held again
    assert len(gate.attempts[("DetectText", '{"Bucket": "b", "Name": "k"}')]) == 4


def test_a_gate_that_waits_too_long_opens_rather_than_hangs() -> None:
    gate = BurstGate(Recording(), timeout=0.05)
    gate.hold(["DetectText"], expected=2)
    gate.handle("DetectText", {})
    assert gate.opened.is_set() and gate.arrived == 1
