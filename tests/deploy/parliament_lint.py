"""Lint IAM policy documents with parliament; run with the deploy tools' interpreter.

Reads {"<where>": <policy document>, ...} as JSON on stdin and prints parliament's findings as a JSON list:
    .venv-deploy/bin/python tests/deploy/parliament_lint.py < policies.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import parliament
from parliament import analyze_policy_string, enhance_finding

# As `parliament --include-community-auditors` does: the community auditors bring their own finding types.
parliament.override_config(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")


def findings(documents: dict[str, dict]) -> list[dict[str, object]]:
    found = []
    for where, document in documents.items():
        policy = analyze_policy_string(json.dumps(document), filepath=where, include_community_auditors=True)
        for finding in map(enhance_finding, policy.findings):
            location = finding.location if isinstance(finding.location, dict) else {}
            found.append(
                {
                    "policy": where,
                    "issue": finding.issue,
                    "severity": finding.severity,
                    "title": finding.title,
                    "detail": str(finding.detail),
                    "actions": sorted(location.get("actions", [])),
                    "location": str(finding.location),
                }
            )
    return found


if __name__ == "__main__":
    json.dump(findings(json.load(sys.stdin)), sys.stdout, indent=1)
