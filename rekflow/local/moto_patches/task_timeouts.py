"""Time a waiting task out now, as its TimeoutSeconds running out would.

A test that stages a lost completion does not have to wait the timeout out, nor shorten it and race
the completions that do arrive: once the branch has parked its task token, the test times that one
task out. moto's interpreter then fails the task exactly as when its timer fires (both raise a
TimeoutError in the task): a TaskTimedOut event with States.Timeout, which the state's Catch handles.
("If the state runs longer than the specified timeout, then the interpreter fails the state with a
States.Timeout Error Name": Amazon States Language, Task State, https://states-language.net/spec.html#task-state)
"""

from __future__ import annotations

from rekflow.local.template import ACCOUNT_ID, REGION


def time_out_task(task_token: str, account_id: str = ACCOUNT_ID, region: str = REGION) -> None:
    """Fail the task waiting on `task_token` with States.Timeout (one that has already ended is left as it
    ended); ValueError when no execution ever issued the token."""
    from moto.stepfunctions.parser.api import TaskTimedOut
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeTimedOut
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    for machine in list(stepfunctions_parser_backends[account_id][region].state_machines):
        for execution in list(machine.executions):
            # moto types the parser backend's executions as its plain backend's; they are the parser's, with a worker.
            worker = execution.exec_worker  # type: ignore[attr-defined]
            # notify() answers False for a token this execution does not hold, and refuses one already closed.
            try:
                if worker is not None and worker.env.callback_pool_manager.notify(
                    task_token, CallbackOutcomeTimedOut(callback_id=task_token)
                ):
                    return
            except TaskTimedOut:
                return  # the task has already ended: left as it ended
    raise ValueError(f"no running task waits on task token {task_token[:16]}…")
