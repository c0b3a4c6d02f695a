"""Tables of executions and of one execution's events, printed with rich like `rekflow analyze`'s."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rekflow.commands.executions.history import Event, failing_state, readable
from rekflow.commands.executions.summary import ExecutionSummary


def executions_table(summaries: list[ExecutionSummary], where: str) -> Table:
    table = Table(title=f"rekflow executions ({where})", show_lines=True)
    for column in ("started", "name", "status", "object", "failed state", "error"):
        # A name whole, on one line, to copy into `rekflow history NAME`; the other cells fold.
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for summary in summaries:
        table.add_row(
            summary.start_date[:19].replace("T", " "),
            summary.name,
            status_cell(summary),
            summary.key or "",
            summary.failed_state or "",
            summary.error or "",
        )
    return table


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


def history_table(name: str, events: list[Event]) -> Table:
    ends = [e for e in events if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"]
    title = f"rekflow history {name}: {ends[-1]['type'] if ends else 'running'}"
    failed = failing_state(events)
    if failed:
        title += f" at {failed!r}"
    table = Table(title=title)
    for column, justify in (
        ("+s", "right"),
        ("state", "left"),
        ("event", "left"),
        ("attempt", "right"),
        ("error", "left"),
        ("cause", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for line in readable(events):
        table.add_row(f"{line.seconds:.3f}", line.state, line.what, str(line.attempt or ""), line.error, line.cause)
    return table


def print_table(table: Table) -> None:
    Console().print(table)
