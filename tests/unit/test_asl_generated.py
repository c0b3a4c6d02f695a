"""The committed definitions are the generator's output, and their branches follow the feature registry."""

from __future__ import annotations

import json

from rekflow.asl.generated import DEFINITIONS, stale
from rekflow.features import IMAGE_FEATURES, VIDEO_FEATURES
from rekflow.local.state_cases import states_by_name


def test_committed_definitions_are_what_the_generator_writes():
    assert stale() == [], "run `python -m rekflow.asl` and commit statemachines/"


def test_each_parallel_has_one_branch_per_registered_feature_in_order():
    definition = json.loads(next(iter(DEFINITIONS)).read_text())
    states = states_by_name(definition)
    for parallel, features in (("Analyze image", IMAGE_FEATURES), ("Analyze video", VIDEO_FEATURES)):
        operations = []
        for branch in states[parallel]["Branches"]:
            resources = [s["Resource"] for s in branch["States"].values() if s["Type"] == "Task"]
            operations.append(resources[0].rsplit(":", 1)[1])
        expected = [(f.image.operation if parallel == "Analyze image" else f.video.start) for f in features]
        assert [op.lower() for op in operations] == [op.lower() for op in expected]
        assert states[parallel]["ResultSelector"] == {f"{f.name}.$": f"$[{i}]" for i, f in enumerate(features)}
