"""The files a command analyses: every file under the paths given, each with the object key it is uploaded
under, and what a folder held that is left out (the results folder, hidden files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console


@dataclass(frozen=True)
class InputFile:
    path: Path
    key: str  # the object key it is uploaded under: its path relative to the folder given


@dataclass
class Skipped:
    """What a folder held that is not analysed."""

    results: int = 0  # files in the results folder (--output): an earlier run's documents and logs
    hidden: dict[str, int] = field(default_factory=dict)  # a hidden file or folder: the files in it

    def describe(self, output: Path) -> str | None:
        """One line for stderr, or None when nothing was skipped."""
        parts = []
        if self.results:
            parts.append(f"{self.results} file(s) in the results folder {output}/")
        if self.hidden:
            names = sorted(self.hidden)
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            parts.append(f"{sum(self.hidden.values())} hidden file(s) ({shown})")
        return f"rekflow: skipped {' and '.join(parts)}" if parts else None


def collect(paths: list[Path], output: Path | None = None) -> tuple[list[InputFile], Skipped]:
    """Every file under the given files and folders, in a stable order. In a folder, the results
    folder `output` and hidden files and folders (a name starting with '.') are skipped; a file
    named on the command line is always analysed."""
    found: list[InputFile] = []
    skipped = Skipped()
    results_folder = output.resolve() if output is not None else None
    for root in paths:
        if root.is_file():
            found.append(InputFile(root, root.name))
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if results_folder is not None and path.resolve().is_relative_to(results_folder):
                skipped.results += 1
                continue
            hidden = next((i for i, part in enumerate(relative.parts) if part.startswith(".")), None)
            if hidden is not None:
                # Named by the hidden entry itself: a folder's files count once, under "photos/.thumbs/".
                name = "/".join(relative.parts[: hidden + 1]) + ("/" if hidden < len(relative.parts) - 1 else "")
                skipped.hidden[name] = skipped.hidden.get(name, 0) + 1
                continue
            found.append(InputFile(path, relative.as_posix()))
    return found, skipped


def collect_reported(paths: list[Path], output: Path, err: Console, nothing: str) -> list[InputFile]:
    """collect(), saying on `err` what was skipped, and `nothing` when no file is left."""
    items, skipped = collect(paths, output)
    said = skipped.describe(output)
    if said:
        err.print(said, markup=False, highlight=False, soft_wrap=True)
    if not items:
        err.print(f"[yellow]rekflow: {nothing}[/yellow]")
    return items
