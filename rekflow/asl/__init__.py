"""The ASL definitions in statemachines/, generated from one source.

    python -m rekflow.asl           # write statemachines/*.asl.json
    python -m rekflow.asl --check   # fail if a committed definition differs from what this generates

The committed files are what SAM deploys and what a reader reads; this package is where they are
written once: each Retry and Catch policy in policies.py, each feature's branch from
schemas/features.json. tests/unit/test_asl_generated.py keeps the two in step.
"""
