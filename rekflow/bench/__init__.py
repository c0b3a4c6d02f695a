"""`make bench`: speed, memory and cost, measured side by side in one run. `python -m rekflow.bench NAME [ARGS]`."""
