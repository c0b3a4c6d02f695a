"""The tables of executions and of one execution's events (laid out by rekflow.commands.listing)."""

from __future__ import annotations

from rekflow.commands.executions.history import Event, failing_state, readable
from rekflow.commands.executions.summary import ExecutionSummary
from rekflow.commands.listing import Column, Listing, print_table

__all__ = ["executions_table", "history_table", "print_table", "status_cell"]


def executions_table(summaries: list[ExecutionSummary], where: str) -> Listing:
    columns = (
        Column("started", whole=True),
        Column("name", whole=True),  # to copy into `rekflow history NAME`
        Column("status", whole=True),
        Column("object", whole=False),
        Column("failed state", whole=False),
        Column("error", whole=False),
    )
    rows = [
        (
            summary.start_date[:19].replace("T", " "),
            summary.name,
            status_cell(summary),
            summary.key or "",
            summary.failed_state or "",
            summary.error or "",
        )
        for summary in summaries
    ]
    return Listing(f"rekflow executions ({where})", columns, rows, lines_between_rows=True)


def status_cell(summary: ExecutionSummary) -> str:
    """The execution's status, and the workflow's own outcome where it says more (PARTIAL, REJECTED...)."""
    cell = summary.status
    if summary.outcome == "PARTIAL":
        cell += " (partial)"
    elif summary.outcome and summary.outcome != summary.status:
        cell += f"\n{summary.outcome}" + (f" {summary.reason}" if summary.reason else "")
    if summary.replay_of:
        cell += f"\nreplay of {summary.replay_of}"
    return cell


def history_table(name: str, events: list[Event]) -> Listing:
    ends = [e for e in events if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"]
    title = f"rekflow history {name}: {ends[-1]['type'] if ends else 'running'}"
    failed = failing_state(events)
    if failed:
        title += f" at {failed!r}"
    columns = (
        Column("+s", whole=True, justify="right"),
        Column("state", whole=True),
        Column("event", whole=True),
        Column("attempt", whole=True, justify="right"),
        Column("error", whole=False),
        Column("cause", whole=False),
    )
    rows = [
        (f"{line.seconds:.3f}", line.state, line.what, str(line.attempt or ""), line.error, line.cause)
        for line in readable(events)
    ]
    return Listing(title, columns, rows)
