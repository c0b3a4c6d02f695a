"""Handlers that go wrong the ways a Lambda function can: the sandbox tests run each in a worker process."""

import ctypes
import os
import time

import boto3

INITIALISED_AT = time.time()  # module state: the same in every warm invocation of one environment


def echo(event, context):
    print(f"echo {event['value']}")
    return {
        "value": event["value"],
        "pid": os.getpid(),
        "initialisedAt": INITIALISED_AT,
        "tmp": os.environ["TMPDIR"],
        "remainingMillis": context.get_remaining_time_in_millis(),
        "setting": os.environ.get("SANDBOX_SETTING"),
    }


def head_object(event, context):
    """An AWS call from the worker: answered by the parent, errors raised as the modelled exception."""
    s3 = boto3.client("s3", region_name="us-east-1")
    try:
        answer = s3.get_object(Bucket=event["bucket"], Key=event["key"])
    except s3.exceptions.NoSuchKey as error:
        return {"error": type(error).__name__, "code": error.response["Error"]["Code"]}
    return {"body": answer["Body"].read().decode(), "length": answer["ContentLength"]}


def raise_value_error(event, context):
    raise ValueError("the handler refused")


def segfault(event, context):
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a native decoder's bug does


def sleep(event, context):
    seconds = event.get("seconds", 30)
    time.sleep(seconds)
    return {"slept": seconds}


def allocate(event, context):
    hog = bytearray(event.get("megabytes", 600) * 1024 * 1024)  # zero-filled: every page is touched
    time.sleep(1)
    return {"allocated": len(hog)}
