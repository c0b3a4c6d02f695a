"""A state whose branch was stopped while it ran ends quietly, instead of failing with a TaskFailed moto makes up.

When a Parallel branch (or a Map iteration) fails, moto stops its sibling branches. A sibling that had just
entered a Task state goes on evaluating it in a frame opened from its now stopped environment, where every
component's eval() does nothing: the task's resource pushes nothing, the task pops the state's input instead,
and fails on it ("'dict' object has no attribute 'region'"). moto then records that as a TaskFailed with
States.Runtime and no resource or resourceType (which GetExecutionHistory's model requires) before the
Parallel fails. With the functions in worker processes the branches overlap more, and a loaded machine hit it
(tests/functional/test_executions.py: "Detect faces" entered just as "Detect text" failed).

On AWS a stopped branch's state is cancelled: its own failure is not reported. Here the exception of a state
whose environment stopped while it ran is dropped; moto's state then sees the environment stopped and returns
(CommonStateField._eval_body), as it does for a state that ends after the stop. A state that fails while its
environment still runs fails as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def quiet_once_stopped(evaluate_with_timeout: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """ExecutionState._evaluate_with_timeout, whose failure is dropped when `env` stopped meanwhile."""

    def evaluate(self: Any, env: Any) -> None:
        try:
            evaluate_with_timeout(self, env)
        except Exception:
            if env.is_running():
                raise

    return evaluate
