"""The token bucket behind the fixture backend's TPS quotas, on a clock the test moves by hand."""

from __future__ import annotations

import threading

import pytest

from rekflow.vision.backend import RekognitionError
from rekflow.vision.fixture import FixtureBackend
from rekflow.vision.quota import OperationCalls, TokenBucket, TpsQuotas, share_of_quota
from tests.conftest import jpeg_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_admits_its_capacity_then_refuses() -> None:
    bucket = TokenBucket(rate_per_second=5, capacity=5, clock=Clock())
    assert [bucket.try_take() for _ in range(6)] == [True] * 5 + [False]


def test_the_bucket_refills_at_its_rate_and_never_beyond_its_capacity() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_second=4, capacity=2, clock=clock)
    assert bucket.try_take() and bucket.try_take() and not bucket.try_take()
    clock.now += 0.2  # 0.8 of a token
    assert not bucket.try_take()
    clock.now += 0.05  # 1.0
    assert bucket.try_take()
    clock.now += 60  # a minute idle refills only up to the capacity
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]


def test_concurrent_callers_never_take_more_tokens_than_there_are() -> None:
    bucket = TokenBucket(rate_per_second=1e-9, capacity=50, clock=Clock())
    admitted: list[bool] = []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(20):
            taken = bucket.try_take()
            with lock:
                admitted.append(taken)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 50 and len(admitted) == 160


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (-1, 1), (1, 0.5)])
def test_a_bucket_that_could_never_admit_a_call_is_refused(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate, capacity)


def test_quotas_hold_each_operation_to_its_own_bucket_and_record_every_call() -> None:
    clock = Clock()
    quotas = TpsQuotas({"DetectLabels": 1, "DetectText": 2}, clock=clock)
    assert [quotas.admit("DetectLabels") for _ in range(2)] == [True, False]
    assert [quotas.admit("DetectText") for _ in range(3)] == [True, True, False]
    assert all(quotas.admit("DetectFaces") for _ in range(100))  # no quota, never limited
    clock.now += 1
    assert quotas.admit("DetectLabels")
    assert quotas.calls["DetectLabels"] == OperationCalls(admitted=[100.0, 101.0], refused=[100.0])
    assert "DetectFaces" not in quotas.calls


def test_the_share_is_what_was_admitted_over_what_the_quota_could_admit_in_the_window() -> None:
    # 5-token burst, 5 a second: 5 at once and 5 more over the next second is the most a quota can give.
    paced = OperationCalls(admitted=[0.0] * 5 + [0.2, 0.4, 0.6, 0.8, 1.0], refused=[0.0, 0.1])
    assert share_of_quota(paced, rate_per_second=5, burst_tokens=5) == pytest.approx(1.0)
    # The same ten calls with the quota idle for three more seconds while one of them backed off.
    late = OperationCalls(admitted=[0.0] * 5 + [0.2, 0.4, 0.6, 0.8, 4.0], refused=[0.0])
    assert share_of_quota(late, rate_per_second=5, burst_tokens=5) == pytest.approx(10 / 25)
    assert share_of_quota(OperationCalls(refused=[0.0]), rate_per_second=5, burst_tokens=5) == 0.0


def test_the_fixture_backend_refuses_a_call_over_its_quota_as_rekognition_does() -> None:
    backend = FixtureBackend(lambda: None, quotas=TpsQuotas({"DetectLabels": 1}, clock=Clock()))
    request = {"Image": {"Bytes": jpeg_bytes()}}
    assert backend.handle("DetectLabels", request)["Labels"]
    with pytest.raises(RekognitionError) as refused:
        backend.handle("DetectLabels", request)
    assert refused.value.code == "ProvisionedThroughputExceededException"
    assert backend.handle("DetectText", request)["TextDetections"]  # other operations are not limited
