"""`rekflow review` offline, on a results folder.

There is no stack left once `rekflow analyze` has exited, so a review waiting then is kept in the results
folder (reviews/<asset id>.json, written when its execution has parked: its input, the summary item as the analysis
left it, its own copy of the results document, the object version's hold and its deadline). `approve`/`reject` resume
it in a fresh local stack: the item, the document and the object version are put back, the review workflow runs again
from its input up to the wait (its steps before the wait are idempotent: the item is marked PENDING_REVIEW again and
the local topic told again, which nobody hears offline), the decision is sent with SendTaskSuccess (or, past its
deadline, each wait times out as ReviewTimeoutHours would), and the rest of the workflow records it
(RecordReviewFunction: item and document), tags and announces it. The decided document goes back to the folder; a
lock file keeps two reviewers of one folder from deciding one review twice: the second is told who decided.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rekflow.commands.results_folder import index_document, open_index
from rekflow.commands.review.common import (
    DECISIONS,
    PENDING,
    REVIEW_STATE_MACHINE,
    Pending,
    ReviewClosed,
    ReviewError,
    UnknownAsset,
    flagged_labels,
    now,
    shown_review,
)
from rekflow.local.template import ACCOUNT_ID
from rekflow.search.documents import document_path
from rekflow.search.index import IndexUnusable

REVIEWS_FOLDER = "reviews"
# One line per change of a review (started, decided), the last line of an asset its state: `review list` reads this
# file alone (10,000 reviews in a few tens of milliseconds: python -m rekflow.bench review), never the records.
INDEX = "index.jsonl"
# Offline the stack plays HoldFlaggedMedia=true, so that a review shows what the hold does to its object (its tag,
# and whether a reader may read it); nobody else reads the local bucket. On AWS the template's default (false) holds.
LOCAL_PARAMETERS = {"HoldFlaggedMedia": "true"}
# Who "a reader" is offline: any principal MediaBucketPolicy does not exempt, such as the app that serves the media.
READER = f"arn:aws:iam::{ACCOUNT_ID}:role/media-reader"


def reviews_folder(output: Path) -> Path:
    return output / REVIEWS_FOLDER


def keep_pending(runtime: Any, output: Path, asset_id: str, results_path: Path, timeout: float = 60.0) -> Path:
    """Once the asset's review waits for a decision on the local stack, keep it in the results folder."""
    from rekflow.local.reviews import parked, raw_summary_item, wait_for
    from rekflow.local.runtime import client

    dynamodb, sfn = client("dynamodb"), client("stepfunctions")
    item = wait_for(dynamodb, runtime.stack.results_table, asset_id, parked, timeout)
    raw = raw_summary_item(dynamodb, runtime.stack.results_table, asset_id) or {}
    review_input = json.loads(sfn.describe_execution(executionArn=item["ReviewExecutionArn"])["input"])
    record = {
        "assetId": asset_id,
        "key": item["Key"],
        "versionId": item["VersionId"],
        "status": PENDING,
        "startedAt": item["ReviewStartedAt"],
        "labels": flagged_labels(item),
        "escalations": int(item.get("ReviewEscalations", 0)),
        "input": review_input,
        # The item as the analysis left it: the review marks it again when it is resumed.
        "item": {name: value for name, value in raw.items() if not name.startswith("Review")},
        "document": str(results_path.relative_to(output)),
        "object": object_hold(runtime, item["Key"], item["VersionId"]),
        "deadline": review_deadline(runtime.template, item["ReviewStartedAt"]),
    }
    folder = reviews_folder(output)
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / f"{asset_id}.document.json", json.loads(results_path.read_text(encoding="utf-8")))
    path = folder / f"{asset_id}.json"
    _write_json(path, record)
    index_review(output, record)
    return path


def review_deadline(template: Any, started_at: str) -> str:
    """When the review's timeout has acted for good, as the deployed ReviewStateMachine's settings say: its wait of
    ReviewTimeoutSeconds, once, or ReviewEscalations + 1 times under ESCALATE."""
    settings = template.resolve(template.resources[REVIEW_STATE_MACHINE]["Properties"]["DefinitionSubstitutions"])
    waits = int(settings["ReviewEscalations"]) + 1 if settings["ReviewTimeoutAction"] == "ESCALATE" else 1
    started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    return (started + timedelta(seconds=int(settings["ReviewTimeoutSeconds"]) * waits)).strftime("%Y-%m-%dT%H:%M:%SZ")


def overdue(record: dict[str, Any]) -> bool:
    """Past its deadline: on AWS its timeout would have acted by now (a review kept before deadlines were: never)."""
    return "deadline" in record and now() >= str(record["deadline"])


def object_hold(runtime: Any, key: str, version_id: str) -> dict[str, Any]:
    """The object version's tags on the local stack, and whether READER may read it there (the local S3 enforces the
    media bucket's policy): {"tags", "readable", "deniedBy"}."""
    from rekflow.local.runtime import client

    answer = client("s3").get_object_tagging(Bucket=runtime.stack.media_bucket, Key=key, VersionId=version_id)
    denied = runtime.read_denied_to(READER, key, version_id)
    return {"tags": {t["Key"]: t["Value"] for t in answer["TagSet"]}, "readable": not denied, "deniedBy": denied}


def index_review(output: Path, record: dict[str, Any]) -> None:
    """Append the review's state to the folder's index, one whole line under an exclusive lock (analyze keeps
    reviews from several threads, and two reviewers may decide at once)."""
    line = {name: record[name] for name in ("assetId", "key", "versionId", "status", "startedAt", "labels")}
    line["escalations"] = record.get("escalations", 0)
    if "deadline" in record:
        line["deadline"] = record["deadline"]
    with (reviews_folder(output) / INDEX).open("a", encoding="utf-8") as index:
        fcntl.flock(index, fcntl.LOCK_EX)
        try:
            index.write(json.dumps(line, ensure_ascii=False) + "\n")
            index.flush()
        finally:
            fcntl.flock(index, fcntl.LOCK_UN)


def _write_json(path: Path, value: Any) -> None:
    """Whole or not at all: a reader never sees half a file."""
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    part.write_text(json.dumps(value, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(part, path)


def _records(output: Path) -> Iterator[dict[str, Any]]:
    folder = reviews_folder(output)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        name = path.name
        if name.endswith(".json") and not name.endswith(".document.json") and not name.startswith("."):
            yield json.loads(path.read_bytes())


def _latest(output: Path) -> list[dict[str, Any]]:
    """Each review's latest state: from the index, or from the records where a folder has none."""
    index = reviews_folder(output) / INDEX
    if not index.exists():
        return list(_records(output))
    latest: dict[str, dict[str, Any]] = {}
    for line in index.read_bytes().splitlines():
        if line.strip():
            entry = json.loads(line)
            latest[entry["assetId"]] = entry
    return list(latest.values())


def list_local(output: Path) -> list[Pending]:
    """The reviews waiting in a results folder, oldest first; one whose key was analysed again since (a newer review
    of it, or the folder's document of the key now another version's, a clean one) is marked superseded: its review
    is kept, and can still be decided."""
    records = _latest(output)
    newest: dict[str, str] = {}
    for record in records:
        newest[record["key"]] = max(newest.get(record["key"], ""), record["startedAt"])
    pending = [
        Pending(
            r["assetId"],
            r["key"],
            r["versionId"],
            r["startedAt"],
            r["labels"],
            r.get("escalations", 0),
            r["startedAt"] < newest[r["key"]] or _document_moved_on(output, r["assetId"], r["key"]),
            r.get("deadline"),
        )
        for r in records
        if r["status"] == PENDING
    ]
    return sorted(pending, key=lambda p: (p.started_at, p.asset_id))


def decided_local(output: Path) -> list[dict[str, Any]]:
    """The reviews decided in a results folder, newest first: key, status, reviewer, note."""
    folder = reviews_folder(output)
    decided = []
    for entry in _latest(output):
        if entry["status"] in DECISIONS:
            record = json.loads((folder / f"{entry['assetId']}.json").read_bytes())
            made = record.get("decision", {})
            decided.append(
                {
                    "key": entry["key"],
                    "status": entry["status"],
                    "reviewer": made.get("reviewer"),
                    "note": made.get("note"),
                    "decidedAt": made.get("decidedAt", ""),
                    "object": record.get("object"),  # its tags and whether a reader may read it, after the decision
                }
            )
    return sorted(decided, key=lambda d: str(d["decidedAt"]), reverse=True)


def _document_moved_on(output: Path, asset_id: str, key: str) -> bool:
    """The folder's document for the key now belongs to another analysis (a newer version). Its assetId is among
    its first fields (BuildResults writes it second), so the head of the file tells."""
    try:
        with document_path(output, key).open("rb") as document:
            head = document.read(4096)
    except FileNotFoundError:
        return False
    return asset_id.encode() not in head


def find_local(output: Path, asset: str) -> dict[str, Any]:
    """The review record of ASSET: an asset id, a unique prefix of one, or an object key."""
    folder = reviews_folder(output)
    exact = folder / f"{asset}.json"
    if len(asset) == 64 and exact.exists():
        return dict(json.loads(exact.read_bytes()))
    found = [r for r in _records(output) if r["assetId"].startswith(asset) or r["key"] == asset]
    pending = [r for r in found if r["status"] == PENDING]
    if len(found) == 1:
        return found[0]
    if len(pending) == 1:  # a key analysed again: the review still waiting is the one meant
        return pending[0]
    if not found:
        raise UnknownAsset(f"no review of {asset!r} in {folder}")
    ids = ", ".join(r["assetId"][:12] for r in found)
    raise UnknownAsset(f"{asset!r} names {len(found)} reviews ({ids}): give the asset id")


def show_local(output: Path, asset: str) -> dict[str, Any]:
    record = find_local(output, asset)
    document = json.loads((reviews_folder(output) / f"{record['assetId']}.document.json").read_bytes())
    shown = shown_review(record["assetId"], record["key"], record["versionId"], document, _local_history(record))
    if "object" in record:  # the object version's tags and who may read it, on the local stack
        shown["object"] = record["object"]
    return shown


def said_of_hold(hold: dict[str, Any]) -> str:
    """One line on an object version's hold, for a person."""
    tags = ", ".join(f"{k}={v}" for k, v in hold["tags"].items()) or "no tags"
    if hold["readable"]:
        return f"the object version is readable ({tags})"
    return f"the object version is unreadable to readers ({tags}; denied by {', '.join(hold['deniedBy'])})"


def _local_history(record: dict[str, Any]) -> list[str]:
    history = [f"{record['startedAt']}  PENDING_REVIEW (review started)"]
    decision = record.get("decision")
    if decision:
        note = f": {decision['note']}" if decision.get("note") else ""
        history.append(f"{decision['decidedAt']}  {decision['decision']} by {decision['reviewer']}{note}")
    return history


@contextlib.contextmanager
def _locked(output: Path, asset_id: str) -> Iterator[None]:
    """One decision at a time per review: another reviewer of the folder waits, then finds it decided."""
    with (reviews_folder(output) / f".{asset_id}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def decide_local(output: Path, asset: str, decision: str, note: str | None = None) -> dict[str, Any]:
    """Resume the asset's review in a fresh local stack and decide it as the local user; the Media Reviewed event's
    detail. ReviewClosed when it was decided already."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {DECISIONS}")
    asset_id = find_local(output, asset)["assetId"]
    with _locked(output, asset_id):
        path = reviews_folder(output) / f"{asset_id}.json"
        record = json.loads(path.read_bytes())  # again, under the lock: another reviewer may have decided it
        if record["status"] != PENDING:
            done = record.get("decision", {})
            raise ReviewClosed(
                f"the review of {record['key']} was decided already: {record['status']} by "
                f"{done.get('reviewer')} at {done.get('decidedAt')}"
            )
        if overdue(record):
            # On AWS its timeout would have acted already: let it act now, through the workflow, then refuse.
            event = _close(output, record, None, None)
            raise ReviewClosed(
                f"the review of {record['key']} timed out at {record['deadline']}: ReviewTimeoutAction decided "
                f"{event['decision']}; this decision was not recorded"
            )
        return _close(output, record, decision, note)


def _close(output: Path, record: dict[str, Any], decision: str | None, note: str | None) -> dict[str, Any]:
    """Decide the review (None: let its timeout act) and keep what the workflow recorded: the document, the record and
    the folder's index; the Media Reviewed event's detail."""
    asset_id = record["assetId"]
    document_copy = reviews_folder(output) / f"{asset_id}.document.json"
    document, event, hold = _run_decision(record, json.loads(document_copy.read_bytes()), decision, note)
    _write_json(document_copy, document)
    folder_document = output / record["document"]
    if folder_document.exists() and not _document_moved_on(output, asset_id, record["key"]):
        _write_json(folder_document, document)
        _index_decided(output, document)
    record["status"] = event["decision"]
    record["decision"] = {
        name: event[name] for name in ("decision", "reviewer", "decidedAt", "timedOut") if name in event
    }
    if event.get("note"):
        record["decision"]["note"] = event["note"]
    record["event"] = event
    record["object"] = hold
    _write_json(reviews_folder(output) / f"{asset_id}.json", record)
    index_review(output, record)
    return dict(event)


def _index_decided(output: Path, document: dict[str, Any]) -> None:
    """Put the decided document into the folder's search index, so `review:approved` finds it at once. An index
    that cannot be used (another version's) is left alone: the decision stands, and `rekflow index --rebuild`
    reads it from the document."""
    with contextlib.suppress(IndexUnusable), open_index(output) as index:
        index_document(index, output, document)


def _run_decision(
    record: dict[str, Any], document: dict[str, Any], decision: str | None, note: str | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The review workflow run again from its input on a local stack seeded with the item, the document and the
    object version (its tags; its bytes stay in the user's folder, and no state of the review reads them), decided
    with SendTaskSuccess, or (decision None) each wait timed out until ReviewTimeoutAction decides: (the decided
    document, the Media Reviewed event's detail, the object's hold after it)."""
    from rekflow.local.reviews import decided, decision_output, parked, time_out_review, wait_for
    from rekflow.local.runtime import LocalRuntime, client

    with LocalRuntime("fixture", functions_in_process=True, parameter_overrides=LOCAL_PARAMETERS) as runtime:
        stack = runtime.stack
        tags = record.get("object", {}).get("tags", {})  # a review kept before holds were recorded: none
        runtime.restore_version(record["key"], record["versionId"], b"", tags)
        results_key = str(record["input"]["resultsLocation"]).removeprefix(f"s3://{stack.results_bucket}/")
        client("s3").put_object(
            Bucket=stack.results_bucket, Key=results_key, Body=json.dumps(document, ensure_ascii=False).encode()
        )
        client("dynamodb").put_item(TableName=stack.results_table, Item=record["item"])
        sfn = client("stepfunctions")
        execution = sfn.start_execution(
            stateMachineArn=stack.state_machine_arns[REVIEW_STATE_MACHINE],
            name=str(uuid.uuid4()),
            input=json.dumps(record["input"]),
        )["executionArn"]
        dynamodb = client("dynamodb")
        item = wait_for(dynamodb, stack.results_table, record["assetId"], parked)
        if decision is None:
            while not decided(item):  # ESCALATE waits again on a new token, ReviewEscalations times
                timed_out = item["ReviewTaskToken"]
                time_out_review(timed_out)

                def moved_on(now_: dict[str, Any], timed_out: str = timed_out) -> bool:
                    return decided(now_) or (parked(now_) and now_["ReviewTaskToken"] != timed_out)

                item = wait_for(dynamodb, stack.results_table, record["assetId"], moved_on)
        else:
            output = decision_output(decision, getpass.getuser(), now(), note)
            sfn.send_task_success(taskToken=item["ReviewTaskToken"], output=output)
        result = runtime.wait(execution)
        if result.status != "SUCCEEDED" or result.output is None:
            raise ReviewError(f"the review workflow ended {result.status}: {result.error} {result.cause}")
        hold = object_hold(runtime, record["key"], record["versionId"])
        return runtime.results_document(results_key), dict(result.output), hold
