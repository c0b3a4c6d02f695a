"""A table laid out for where stdout goes, for every command that prints one (`rekflow analyze`,
`executions`, `history`).

On a terminal a table fits the terminal's width: the columns that name a row (a date, an execution
name, a status, a state, an event) stay whole, and the free text (object keys, findings, errors,
causes) folds in what is left. Piped or redirected, stdout has no width to fit (rich would assume 80
columns and fold every cell to a few characters): each row is then one line with every value whole and
no borders, for grep, less or a file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table

# A multi-line cell on one line: its lines in order, with this between them.
_LINES_JOINED_BY = "; "
# A folding column keeps at least this many characters on a narrow terminal.
_FOLDED_AT_LEAST = 10


@dataclass(frozen=True)
class Column:
    header: str
    whole: bool  # never folded inside a word: a value read or copied whole (a name, a status, a time)
    justify: Literal["left", "right"] = "left"


@dataclass(frozen=True)
class Listing:
    """A table's content, laid out by print_table for where stdout goes."""

    title: str
    columns: tuple[Column, ...]
    rows: Sequence[tuple[str, ...]]
    lines_between_rows: bool = False


def print_table(listing: Listing, console: Console | None = None) -> None:
    """On a terminal, fitted to its width where it fits; elsewhere one line per row, nothing folded."""
    console = console or Console()
    if console.is_terminal and _fits(listing, console.width):
        console.print(_fitted(listing))
        return
    table = _one_line_per_row(listing)
    # As wide as the widest row, so that nothing folds (rich's default off a terminal is 80 columns).
    width = max(Console(width=1_000_000).measure(table).maximum, len(listing.title))
    rendered = io.StringIO()
    Console(file=rendered, width=width, no_color=True, highlight=False).print(table)
    console.file.write("".join(line.rstrip() + "\n" for line in rendered.getvalue().splitlines()))


def _least_widths(listing: Listing) -> list[int]:
    """Each column's narrowest: a whole column's longest word (it wraps between words only), a folding
    column's _FOLDED_AT_LEAST (or less, if nothing in it is longer)."""
    least = []
    for index, column in enumerate(listing.columns):
        texts = [column.header, *(row[index] for row in listing.rows)]
        longest_word = max((len(word) for text in texts for word in text.split()), default=0)
        least.append(longest_word if column.whole else min(longest_word, _FOLDED_AT_LEAST))
    return least


def _fits(listing: Listing, width: int) -> bool:
    # rich's default box: a rule between and around the columns, a space either side of each cell.
    borders = len(listing.columns) + 1 + 2 * len(listing.columns)
    return sum(_least_widths(listing)) + borders <= width


def _fitted(listing: Listing) -> Table:
    table = Table(title=listing.title, show_lines=listing.lines_between_rows)
    for column, least in zip(listing.columns, _least_widths(listing), strict=True):
        table.add_column(column.header, justify=column.justify, overflow="fold", min_width=least)
    for row in listing.rows:
        table.add_row(*row)
    return table


def _one_line_per_row(listing: Listing) -> Table:
    table = Table(title=listing.title, box=None, title_justify="left")
    for column in listing.columns:
        table.add_column(column.header, justify=column.justify, no_wrap=True)
    for row in listing.rows:
        table.add_row(*(_LINES_JOINED_BY.join(cell.splitlines()) for cell in row))
    return table
