"""What rekflow changes in moto's Step Functions engine, apart from the runtime that uses it.

engine: every patch, applied and reverted in one place; error_names: Step Functions' names for the
optimised integrations' errors; mediaconvert_sync: the MediaConvert integration moto lacks;
histories: an execution's history read from moto's own record; task_timeouts: time a parked task out now.
"""
