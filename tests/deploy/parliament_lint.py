"""Lint IAM policy documents with parliament; run with the deploy tools' interpreter.

Reads {"<where>": <policy document>, ...} as JSON on stdin and prints parliament's findings as a JSON list:
    .venv-deploy/bin/python tests/deploy/parliament_lint.py < policies.json

Each finding names the statements it is about (their Sid, or "#<index>"), so an accepted finding is accepted for
that statement of that policy only: parliament locates a finding by line, so each statement is written on a line
of its own; a finding located by its actions instead names the statements that hold those actions.
"""

from __future__ import annotations

import json
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import parliament
from parliament import analyze_policy_string, enhance_finding

# As `parliament --include-community-auditors` does: the community auditors bring their own finding types.
parliament.override_config(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")

FIRST_STATEMENT_LINE = 2


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_name(statement: dict[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"#{index}")


def one_statement_a_line(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    statements = _listed(document["Statement"])
    head = json.dumps({k: v for k, v in document.items() if k != "Statement"})[:-1] + ', "Statement": ['
    body = [json.dumps(s) + ("," if i < len(statements) - 1 else "") for i, s in enumerate(statements)]
    return "\n".join([head, *body, "]}"]), statements


def statements_of(location: dict[str, Any], statements: list[dict[str, Any]]) -> list[str]:
    line = location.get("line") or location.get("lineno")
    if isinstance(line, int) and 0 <= line - FIRST_STATEMENT_LINE < len(statements):
        index = line - FIRST_STATEMENT_LINE
        return [statement_name(statements[index], index)]
    actions = [str(a).lower() for a in location.get("actions", [])]
    if actions:
        return [
            statement_name(s, i)
            for i, s in enumerate(statements)
            if any(fnmatchcase(a, str(p).lower()) for a in actions for p in _listed(s.get("Action", [])))
        ]
    return ["*"]  # about the whole document


def findings(documents: dict[str, dict[str, Any]]) -> list[dict[str, object]]:
    found = []
    for where, document in documents.items():
        text, statements = one_statement_a_line(document)
        policy = analyze_policy_string(text, filepath=where, include_community_auditors=True)
        for finding in map(enhance_finding, policy.findings):
            location = finding.location if isinstance(finding.location, dict) else {}
            found.append(
                {
                    "policy": where,
                    "statements": statements_of(location, statements),
                    "issue": finding.issue,
                    "severity": finding.severity,
                    "title": finding.title,
                    "detail": json.loads(json.dumps(finding.detail, default=str)),
                    "actions": sorted(location.get("actions", [])),
                    "location": str(finding.location),
                }
            )
    return found


if __name__ == "__main__":
    json.dump(findings(json.load(sys.stdin)), sys.stdout, indent=1)
