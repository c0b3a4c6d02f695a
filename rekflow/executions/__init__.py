"""Operating the workflow: list executions, read their histories, redrive and replay them,
on a local run's results folder or on a deployed stack."""

from rekflow.executions.commands import register
from rekflow.executions.records import keep

__all__ = ["keep", "register"]
