"""A run's histories in one gzip stream of JSON lines (rekflow.commands.executions.records.HistoryLog): each
readable as soon as it is written, all of them after a run stopped midway, each found by its exact name."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from rekflow.commands.executions.records import LINES_PER_BLOCK, HistoryLog, LocalExecutions


def _events(name: str, count: int = 40) -> list[dict[str, object]]:
    return [
        {
            "id": i,
            "type": "TaskStateEntered",
            "timestamp": f"2026-12-02T12:00:{i:02d}+00:00",
            "stateEnteredEventDetails": {"name": f"State {i} of {name}"},
        }
        for i in range(1, count + 1)
    ]


def _record(folder: Path, name: str, where: tuple[str, int]) -> None:
    record = {"name": name, "executionArn": f"arn:{name}", "input": {}, "status": "SUCCEEDED"}
    kept = {"historyFile": where[0], "historyAt": where[1]}
    (folder / f"{name}.json").write_text(json.dumps({**record, **kept}), encoding="utf-8")


def test_each_history_is_readable_while_the_run_goes_on_and_after_it(tmp_path):
    # GIVEN a run that has written two histories and not ended its stream
    folder = tmp_path / "executions"
    folder.mkdir()
    log = HistoryLog(folder)
    for name in ("run-1", "run-1-replay-1"):  # one name the start of another
        _record(folder, name, log.write(name, _events(name)))
    # WHEN each is read, THEN it is there, found by its own name
    executions = LocalExecutions(tmp_path)
    assert executions.history("run-1") == _events("run-1")
    assert executions.history("run-1-replay-1") == _events("run-1-replay-1")
    # AND once the run ends, the file is a whole gzip file: a line per execution
    log.close()
    assert [json.loads(line)["name"] for line in gzip.decompress(log.path.read_bytes()).splitlines()] == [
        "run-1",
        "run-1-replay-1",
    ]


def test_a_run_stopped_midway_keeps_the_histories_it_finished(tmp_path):
    folder = tmp_path / "executions"
    folder.mkdir()
    flushed = []  # the file's size after each line
    with HistoryLog(folder) as log:
        for name in ("run-0", "run-1", "run-2"):
            _record(folder, name, log.write(name, _events(name)))
            flushed.append(log.path.stat().st_size)
    # GIVEN the file cut inside its last line (the run killed while writing it)
    log.path.write_bytes(log.path.read_bytes()[: (flushed[1] + flushed[2]) // 2])
    executions = LocalExecutions(tmp_path)
    # THEN the earlier histories read, and the one cut short is not kept, not an error
    assert executions.history("run-0") == _events("run-0")
    assert executions.history("run-1") == _events("run-1")
    assert executions.history("run-2") is None


def test_a_history_costs_a_fraction_of_a_file_of_its_own(tmp_path):
    # Consecutive histories of one workflow compress against each other in the stream.
    with HistoryLog(tmp_path) as log:
        for n in range(20):
            log.write(f"run-{n}", _events("the same workflow"))
    alone = len(gzip.compress(json.dumps({"events": _events("the same workflow")}).encode()))
    assert log.path.stat().st_size < 20 * alone / 3


def test_runs_one_after_another_never_share_a_file(tmp_path):
    # GIVEN runs of one process into one folder, each ended before the next starts (within a second)
    folder = tmp_path / "executions"
    folder.mkdir()
    for n in range(50):
        with HistoryLog(folder) as log:
            _record(folder, f"run-{n}", log.write(f"run-{n}", _events(f"run-{n}", 2)))
    # THEN every run's history is still there, in a file of its run's
    executions = LocalExecutions(tmp_path)
    assert all(executions.history(f"run-{n}") == _events(f"run-{n}", 2) for n in range(50))
    assert len(list(folder.glob("histories-*.jsonl.gz"))) == 50


def test_a_history_is_read_from_its_own_block(tmp_path):
    # GIVEN a run of more executions than a block holds
    folder = tmp_path / "executions"
    folder.mkdir()
    names = [f"run-{n}" for n in range(3 * LINES_PER_BLOCK + 5)]
    with HistoryLog(folder) as log:
        starts = {name: log.write(name, _events(name))[1] for name in names}
        for name in names:
            _record(folder, name, (log.path.name, starts[name]))
    assert len(set(starts.values())) == 4 and starts[names[0]] == 0
    # WHEN everything before the last block is overwritten with noise, THEN that block still reads
    last_block = starts[names[-1]]
    data = log.path.read_bytes()
    log.path.write_bytes(bytes(last_block) + data[last_block:])
    executions = LocalExecutions(tmp_path)
    assert all(executions.history(name) == _events(name) for name in names[3 * LINES_PER_BLOCK :])
