#!/usr/bin/env python3
"""Mutation check of the deploy gate and the workflow tests: targeted edits of template.yaml and the ASL
builders (rekflow/asl), each of which must turn the tests red.

Each mutant is applied to a fresh git worktree of HEAD (never to the working tree this runs from), the
generated files are rewritten from it (python -m rekflow.asl, python -m rekflow.docs: a stale generated file
would kill every ASL mutant for the wrong reason), and these tests run in the worktree:

- the unit tests that read template.yaml or the ASL (UNIT: test_template, test_template_loader,
  test_error_names, test_asl_generated, test_backfill_template, test_features, test_mediaconvert_standin; the
  rest of tests/unit tests the functions' and the CLI's code, which no mutant here touches) and tests/deploy,
  with REKFLOW_DEPLOY_GATE=1 (a missing deploy tool fails instead of skipping), without the real-model tests;
- the functional tests the mutant concerns (its `functional` list: the paths that run the mutated state).

A mutant is killed when those tests fail (pytest exit 1), survives when they pass. pytest stops at the first
failure (-x). Tests that already fail unmutated (the baseline run) are deselected from every mutant's run and
reported. Plain Python, no dependency beyond the repository's own .venv:

    make mutate                                   # every mutant
    .venv/bin/python scripts/mutate.py --list     # the mutants
    .venv/bin/python scripts/mutate.py NAME ...   # some of them
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
# Ignored paths the tests need, linked into the worktree from this checkout (tools, models, fetched corpora).
LINKED = [".venv", ".venv-deploy", ".venv-checkov", ".cache/node", ".cache/models", ".cache/corpora", ".cache/samples"]
# The unit tests that read template.yaml or the ASL (the rest test the functions' and the CLI's code, which no
# mutant here touches), and the deploy-readiness gate.
UNIT = [
    "tests/unit/test_template.py",
    "tests/unit/test_template_loader.py",
    "tests/unit/test_error_names.py",
    "tests/unit/test_asl_generated.py",
    "tests/unit/test_backfill_template.py",
    "tests/unit/test_features.py",
    "tests/unit/test_mediaconvert_standin.py",
]
# Last: the slowest (SAM's transform, cfn-lint, checkov), and with -x only reached by a mutant nothing else killed.
DEPLOY = ["tests/deploy"]
# A mutant's tests stop after this long (a Retry removed can make a test wait on a stage it never reaches).
MUTANT_TIMEOUT_SECONDS = 1200
IMAGE = ["tests/functional/test_image_path.py"]
VIDEO = ["tests/functional/test_video_path.py"]
WRITES = ["tests/functional/test_write_path.py"]
CRASHES = ["tests/functional/test_function_crashes.py"]
CONVERSION = ["tests/functional/test_conversion.py"]
TEMPLATE = "template.yaml"
BUILDER = "rekflow/asl/media_analysis.py"
POLICIES = "rekflow/asl/policies.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    path: str
    old: str
    new: str
    anchor: str = ""  # the edit is made at the first `old` after this text
    functional: list[str] = field(default_factory=list)
    # Why no test can kill it, where it changes nothing anyone can observe (its survival then fails nothing).
    equivalent: str = ""

    def test_paths(self) -> list[str]:
        """What runs, in an order that kills early under -x: the unit tests, then the deploy gate before the
        functional tests for a template edit (IAM and configuration), after them for an ASL edit."""
        if self.path == TEMPLATE:
            return UNIT + DEPLOY + self.functional
        return UNIT + self.functional + DEPLOY

    def apply(self, root: Path) -> None:
        target = root / self.path
        text = target.read_text(encoding="utf-8")
        start = text.index(self.anchor) if self.anchor else 0
        at = text.index(self.old, start)
        target.write_text(text[:at] + self.new + text[at + len(self.old) :], encoding="utf-8")


MUTANTS = [
    # ---------------------------------------------------------------- template.yaml: resources widened
    Mutant(
        "widen-validate-getobject",
        "ValidateFunction's s3:GetObject on '*' (issue 22's first edit)",
        TEMPLATE,
        "Resource: !Sub ${MediaBucket.Arn}/*",
        'Resource: "*"',
        anchor="  ValidateFunction:",
    ),
    Mutant(
        "widen-completion-putobject",
        "VideoCompletionFunction's s3:PutObject on '*' (issue 22's second edit)",
        TEMPLATE,
        "Resource: !Sub ${ResultsBucket.Arn}/video-results/*",
        'Resource: "*"',
        anchor="  VideoCompletionFunction:",
    ),
    Mutant(
        "widen-image-readmedia",
        "the image path's ReadMedia (s3:GetObject) on the whole media bucket's ARN pattern '*'",
        TEMPLATE,
        "Resource: !Sub ${MediaBucket.Arn}/*",
        'Resource: "*"',
        anchor="Sid: ReadMedia",
    ),
    Mutant(
        "widen-record-summary-table",
        "the image path's RecordSummary (dynamodb:PutItem/UpdateItem) on every table",
        TEMPLATE,
        "Resource: !GetAtt ResultsTable.Arn",
        'Resource: "*"',
        anchor="Sid: RecordSummary",
    ),
    Mutant(
        "widen-invoke-functions",
        "lambda:InvokeFunction on every function",
        TEMPLATE,
        "            Resource:\n              - !GetAtt ValidateFunction.Arn\n"
        "              - !GetAtt BuildResultsFunction.Arn\n              - !GetAtt MakeProxyFunction.Arn\n",
        '            Resource: "*"\n',
        anchor="Sid: InvokeFunctions",
    ),
    Mutant(
        "widen-completion-jobs-table",
        "VideoCompletionFunction's dynamodb:UpdateItem on every table",
        TEMPLATE,
        "Resource: !GetAtt VideoJobsTable.Arn",
        'Resource: "*"',
        anchor="  VideoCompletionFunction:",
    ),
    # ---------------------------------------------------------------- template.yaml: grants removed
    Mutant(
        "drop-grant-mark-announced",
        "dynamodb:UpdateItem removed from RecordSummary (Mark announced calls it)",
        TEMPLATE,
        "              - dynamodb:PutItem\n              - dynamodb:UpdateItem\n",
        "              - dynamodb:PutItem\n",
        anchor="Sid: RecordSummary",
        functional=WRITES,
    ),
    Mutant(
        "drop-grant-detect-text",
        "rekognition:DetectText removed from DetectImage",
        TEMPLATE,
        "              - rekognition:DetectText\n",
        "",
        anchor="Sid: DetectImage",
        functional=IMAGE,
    ),
    Mutant(
        "drop-grant-announce",
        "the AnnounceResults statement (events:PutEvents) removed",
        TEMPLATE,
        "          - Sid: AnnounceResults\n            Effect: Allow\n            Action: events:PutEvents\n"
        "            Resource: !Sub\n"
        "              - arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${Bus}\n"
        "              - Bus: !FindInMap [AnalyzedEvent, Names, Bus]\n",
        "",
        functional=WRITES,
    ),
    Mutant(
        "drop-grant-validate-listbucket",
        "ValidateFunction's s3:ListBucket removed (a missing key then reads as 403, not 404)",
        TEMPLATE,
        "              Action: s3:ListBucket\n              Resource: !GetAtt MediaBucket.Arn\n",
        "              Action: s3:GetBucketLocation\n              Resource: !GetAtt MediaBucket.Arn\n",
        anchor="  ValidateFunction:",
        functional=IMAGE,
    ),
    Mutant(
        "drop-grant-send-task-success",
        "states:SendTaskSuccess removed from VideoCompletionFunction",
        TEMPLATE,
        "                - states:SendTaskSuccess\n",
        "",
        anchor="  VideoCompletionFunction:",
        functional=VIDEO,
    ),
    Mutant(
        "drop-grant-hand-videos",
        "the Express workflow's states:StartExecution on MediaAnalysis replaced by states:DescribeExecution",
        TEMPLATE,
        "Action: states:StartExecution",
        "Action: states:DescribeExecution",
        anchor="Sid: HandVideosToMediaAnalysis",
        functional=["tests/functional/test_express.py"],
    ),
    # ---------------------------------------------------------------- template.yaml: configuration
    Mutant(
        "drop-env-results-prefix",
        "BuildResultsFunction's RESULTS_PREFIX environment variable removed",
        TEMPLATE,
        "          RESULTS_PREFIX: !FindInMap [Results, Names, Prefix]\n",
        "",
        anchor="  BuildResultsFunction:",
        functional=WRITES,
    ),
    Mutant(
        "drop-env-video-jobs-table",
        "VideoCompletionFunction's VIDEO_JOBS_TABLE environment variable removed",
        TEMPLATE,
        "          VIDEO_JOBS_TABLE: !Ref VideoJobsTable\n",
        "",
        anchor="  VideoCompletionFunction:",
        functional=VIDEO,
    ),
    Mutant(
        "drop-env-max-video-duration",
        "ValidateFunction's MAX_VIDEO_DURATION_SECONDS environment variable removed",
        TEMPLATE,
        "          MAX_VIDEO_DURATION_SECONDS: !Ref MaxVideoDurationSeconds\n",
        "",
        anchor="  ValidateFunction:",
        functional=CONVERSION,
    ),
    Mutant(
        "drop-proxy-filter",
        "the ObjectCreated rule no longer ignores rekflow's own proxies (each copy would start an analysis)",
        TEMPLATE,
        "                  key:\n                    - anything-but:\n"
        "                        prefix: !FindInMap [Proxies, Names, Prefix]\n",
        '                  key:\n                    - prefix: ""\n',
        anchor="  MediaAnalysisStateMachine:",
        functional=CONVERSION,
    ),
    # ---------------------------------------------------------------- ASL: Retry
    Mutant(
        "drop-retry-record-summary",
        "Record summary's DynamoDB Retry removed",
        BUILDER,
        '"Retry": [policies.DYNAMODB_OPTIMISED],\n                "Catch"',
        '"Catch"',
        functional=WRITES,
    ),
    Mutant(
        "drop-retry-store-document",
        "Store results document's S3 Retry removed",
        BUILDER,
        '"Retry": [policies.S3_SDK],',
        "",
        functional=WRITES,
    ),
    Mutant(
        "drop-retry-throttling",
        "the Rekognition throttling Retry removed (REKOGNITION = [REKOGNITION_FAULT])",
        POLICIES,
        "REKOGNITION = [REKOGNITION_THROTTLED, REKOGNITION_FAULT]",
        "REKOGNITION = [REKOGNITION_FAULT]",
        functional=[*IMAGE, "tests/functional/test_throttling.py"],
    ),
    Mutant(
        "drop-retry-build-results",
        "Build results' Lambda Retry removed",
        BUILDER,
        '"Retry": [policies.LAMBDA],\n                "Next": "Store results document"',
        '"Next": "Store results document"',
        functional=[*WRITES, "tests/functional/test_lambda_retries.py"],
    ),
    Mutant(
        "drop-retry-job-limit",
        "the video Start… Retry on Rekognition.LimitExceededException removed",
        BUILDER,
        '"Retry": [*policies.REKOGNITION, policies.REKOGNITION_JOB_LIMIT],',
        '"Retry": [*policies.REKOGNITION],',
        functional=VIDEO,
    ),
    Mutant(
        "fewer-attempts-function-environment",
        "no second attempt after a crashed, out-of-memory or timed-out function (MaxAttempts 0)",
        POLICIES,
        "FUNCTION_ENVIRONMENT = _backoff(FUNCTION_ENVIRONMENT_ERRORS, 1, 1, 2)",
        "FUNCTION_ENVIRONMENT = _backoff(FUNCTION_ENVIRONMENT_ERRORS, 1, 0, 2)",
        functional=CRASHES,
    ),
    # ---------------------------------------------------------------- ASL: error names renamed
    Mutant(
        "rename-retry-throttling",
        "Rekognition.ThrottlingException retried as Rekognition.Throttling",
        POLICIES,
        '["Rekognition.ThrottlingException", "Rekognition.ProvisionedThroughputExceededException"]',
        '["Rekognition.Throttling", "Rekognition.ProvisionedThroughputExceededException"]',
        functional=[*IMAGE, "tests/functional/test_throttling.py"],
    ),
    Mutant(
        "rename-catch-image-format",
        "Rekognition.InvalidImageFormatException caught as Rekognition.InvalidImageFormat",
        POLICIES,
        '    "Rekognition.InvalidImageFormatException",\n',
        '    "Rekognition.InvalidImageFormat",\n',
        functional=IMAGE,
    ),
    Mutant(
        "rename-catch-conditional-check",
        "Record summary catches the aws-sdk spelling DynamoDb.ConditionalCheckFailedException",
        BUILDER,
        '"Catch": [policies.catch(["DynamoDB.ConditionalCheckFailedException"]',
        '"Catch": [policies.catch(["DynamoDb.ConditionalCheckFailedException"]',
        functional=WRITES,
    ),
    Mutant(
        "rename-s3-unavailable",
        "Validate's S3Unavailable retried as S3.Unavailable",
        POLICIES,
        'S3_UNAVAILABLE = _backoff(["S3Unavailable"]',
        'S3_UNAVAILABLE = _backoff(["S3.Unavailable"]',
        functional=IMAGE,
    ),
    Mutant(
        "rename-video-job-failed",
        "VideoJobFailed caught as VideoJobFailure",
        POLICIES,
        'VIDEO_JOB_ERRORS = ["VideoJobFailed", "VideoResultsUnavailable"]',
        'VIDEO_JOB_ERRORS = ["VideoJobFailure", "VideoResultsUnavailable"]',
        functional=VIDEO,
    ),
    # ---------------------------------------------------------------- ASL: Catch removed
    Mutant(
        "drop-catch-video-start",
        "the video Start… Catch of media errors removed",
        BUILDER,
        '"Catch": [policies.catch(policies.VIDEO_MEDIA_ERRORS, failed)],',
        "",
        functional=VIDEO,
    ),
    Mutant(
        "drop-catch-wait-timeout",
        "the Wait for… Catch no longer takes States.Timeout (a lost completion is never polled)",
        BUILDER,
        'policies.catch(["States.Timeout", "DynamoDb.ConditionalCheckFailedException"], poll, "$.waitEnded")',
        'policies.catch(["DynamoDb.ConditionalCheckFailedException"], poll, "$.waitEnded")',
        functional=VIDEO,
    ),
    Mutant(
        "drop-catch-conversion-crash",
        "Convert image to JPEG no longer catches a crashed function",
        BUILDER,
        '"Catch": [policies.catch(policies.FUNCTION_ENVIRONMENT_ERRORS, "Conversion crashed")],',
        "",
        functional=CRASHES,
    ),
    # ---------------------------------------------------------------- ASL: paths
    Mutant(
        "resultpath-analysis",
        "the Parallels' ResultPath $.analysis changed to $.results",
        BUILDER,
        '"ResultPath": "$.analysis",',
        '"ResultPath": "$.results",',
        functional=IMAGE,
    ),
    Mutant(
        "resultpath-already-recorded",
        "Record summary's Catch keeps the error at $.error instead of discarding it (ResultPath null)",
        BUILDER,
        '"Already recorded", None)]',
        '"Already recorded")]',
        functional=WRITES,
        equivalent="Already recorded's OutputPath $.outcome drops $.error again: the execution's output, the record, "
        "the document and the event are the same; only that Pass state's input (in the history) holds the error",
    ),
    Mutant(
        "resultpath-video-job",
        "the video Start…'s ResultPath $.job changed to $.startedJob",
        BUILDER,
        '"ResultPath": "$.job",\n                "Retry": [*policies.REKOGNITION',
        '"ResultPath": "$.startedJob",\n                "Retry": [*policies.REKOGNITION',
        functional=VIDEO,
    ),
    Mutant(
        "condition-wait-for-job",
        "Wait for…'s ConditionExpression removed (a finished job's token would be parked forever)",
        BUILDER,
        '"ConditionExpression": "attribute_not_exists(CompletedStatus)",',
        "",
        functional=VIDEO,
    ),
]


_RUNNING: list[subprocess.Popen[str]] = []


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 3600) -> tuple[int, str]:
    """Run a command in a process group of its own, so that a stop ends it and everything it started."""
    # Fixed commands built here from this file's own lists: nothing untrusted reaches them.
    process = subprocess.Popen(  # noqa: S603
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    _RUNNING.append(process)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise
    finally:
        _RUNNING.remove(process)
    return process.returncode, output


def _stop(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _stopped(*_: object) -> None:
    for process in list(_RUNNING):
        _stop(process)
    sys.exit("stopped")


def make_worktree(base: Path) -> Path:
    tree = base / "tree"
    code, out = run(["git", "worktree", "add", "--detach", "--quiet", str(tree), "HEAD"], ROOT)
    if code:
        sys.exit(f"git worktree add failed:\n{out}")
    link_tools(tree)
    return tree


def link_tools(tree: Path) -> None:
    """Link LINKED into the worktree (again after a reset: .gitignore's "dir/" patterns do not cover a link,
    so git clean removes them)."""
    for name in LINKED:
        if (ROOT / name).exists() and not (tree / name).is_symlink():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).symlink_to(ROOT / name)


def reset(tree: Path) -> None:
    """Back to HEAD: tracked files restored, untracked (not ignored) ones removed; the links stay (ignored)."""
    for command in (["git", "checkout", "--quiet", "--", "."], ["git", "clean", "-fdq"]):
        code, out = run(command, tree)
        if code:
            sys.exit(f"{' '.join(command)} failed in the worktree:\n{out}")
    link_tools(tree)


def environment(tree: Path, base: Path) -> dict[str, str]:
    return {
        **os.environ,
        # The worktree's rekflow, not this checkout's editable install (the .venv is shared).
        "PYTHONPATH": str(tree),
        "REKFLOW_DEPLOY_GATE": "1",
        "REKFLOW_STATE_CASES": str(base / "state-cases.json"),
    }


def regenerate(tree: Path, env: dict[str, str]) -> str | None:
    for module in ("rekflow.asl", "rekflow.docs"):
        code, out = run([str(PYTHON), "-m", module], tree, env)
        if code:
            return f"python -m {module} failed: {out[-2000:]}"
    return None


def pytest(tree: Path, env: dict[str, str], paths: list[str], deselect: list[str]) -> tuple[int, str]:
    command = [str(PYTHON), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not models", "-rfE"]
    command += [f"--deselect={node}" for node in deselect]
    try:
        return run(command + paths, tree, env, timeout=MUTANT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {MUTANT_TIMEOUT_SECONDS} s"


def failed_tests(output: str) -> list[str]:
    return re.findall(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (all by default)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--json", type=Path, help="write the results here too")
    arguments = parser.parse_args()
    if arguments.list:
        for mutant in MUTANTS:
            print(f"{mutant.name:38} {mutant.path:28} {mutant.what}")
        return 0
    chosen = [m for m in MUTANTS if not arguments.names or m.name in arguments.names]
    unknown = set(arguments.names) - {m.name for m in MUTANTS}
    if unknown:
        sys.exit(f"no such mutant: {sorted(unknown)}")

    # A stop (kill PID) still removes the worktree.
    signal.signal(signal.SIGTERM, _stopped)
    base = Path(tempfile.mkdtemp(prefix="rekflow-mutate-"))
    tree = make_worktree(base)
    results: list[dict[str, object]] = []
    try:
        env = environment(tree, base)
        code, out = run([str(PYTHON), "-c", "import rekflow; print(rekflow.PROJECT_ROOT)"], tree, env)
        if Path(out.strip()) != tree:
            sys.exit(f"the worktree's rekflow is not the one imported: {out}")
        functional = sorted({path for m in chosen for path in m.functional})
        started = time.monotonic()
        code, out = pytest(tree, {**env}, UNIT + functional + DEPLOY, [])
        baseline_failures = failed_tests(out) if code else []
        if code and not baseline_failures:
            sys.exit(f"the unmutated tests did not run (exit {code}):\n{out[-3000:]}")
        if baseline_failures:
            # -x stopped at the first: run again without it to find them all.
            command = [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not models", "-rfE"]
            code, out = run(command + UNIT + functional + DEPLOY, tree, env)
            baseline_failures = failed_tests(out)
            print(f"baseline: {len(baseline_failures)} test(s) fail unmutated, deselected: {baseline_failures}")
        print(f"baseline passed in {time.monotonic() - started:.0f} s", flush=True)
        for mutant in chosen:
            reset(tree)
            started = time.monotonic()
            mutant.apply(tree)
            problem = regenerate(tree, env)
            if problem:
                outcome, detail = "killed", problem
            else:
                code, out = pytest(tree, env, mutant.test_paths(), baseline_failures)
                outcome = {0: "survived", 1: "killed"}.get(code, f"error (pytest exit {code})")
                if code == -1:
                    outcome = "timed out"
                lines = out.strip().splitlines() or [""]
                detail = ", ".join(failed_tests(out)[:3]) or lines[-1] if code == 1 else lines[-1]
            seconds = time.monotonic() - started
            results.append({"mutant": mutant.name, "what": mutant.what, "outcome": outcome, "by": detail})
            print(f"{outcome:9} {mutant.name:38} {seconds:5.0f} s  {detail}", flush=True)
    finally:
        run(["git", "worktree", "remove", "--force", str(tree)], ROOT)
        shutil.rmtree(base, ignore_errors=True)

    killed = sum(1 for r in results if r["outcome"] == "killed")
    decided = sum(1 for r in results if r["outcome"] in ("killed", "survived"))
    print(f"\nkill rate: {killed} of {decided} mutants killed ({100 * killed / max(decided, 1):.0f} %)")
    equivalent = {m.name: m.equivalent for m in chosen if m.equivalent}
    gaps = []
    for result in results:
        if result["outcome"] == "survived":
            name = str(result["mutant"])
            why = f"equivalent: {equivalent[name]}" if name in equivalent else "a gap: no test fails"
            print(f"  survived: {name}: {result['what']} ({why})")
            if name not in equivalent:
                gaps.append(name)
    undecided = [str(r["mutant"]) for r in results if r["outcome"] not in ("killed", "survived")]
    for name in undecided:
        print(f"  undecided: {name}")
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 1 if gaps or undecided else 0


if __name__ == "__main__":
    sys.exit(main())
