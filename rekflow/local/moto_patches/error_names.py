"""The names Step Functions gives the errors of the optimised integrations, from botocore's models.

Both the engine's patches and the MediaConvert integration name errors this way; this module is
theirs to share, so neither has to import the other.
"""

from __future__ import annotations

import functools

import botocore.session

# The optimised integrations (dynamodb:, sns:, events:) run on the AWS SDK for Java v1, and Step
# Functions names their errors "<Prefix>.<exception class>": the modelled error's shape name with
# "Exception" appended where it lacks it (DynamoDB.RequestLimitExceededException), or the SDK's base
# class for an error the model does not know (DynamoDB.AmazonDynamoDBException for a
# ValidationException). Seen in recordings of AWS's answers (README, "Error names").
# moto names them "<Prefix>.<error code>" (DynamoDB.RequestLimitExceeded) or, for EventBridge,
# States.Runtime, which no Retry written for AWS would match.
JAVA_V1_NAMING = {
    # botocore service: (error prefix, the SDK's base exception class)
    "dynamodb": ("DynamoDB", "AmazonDynamoDBException"),
    "sns": ("SNS", "AmazonSNSException"),
    "events": ("EventBridge", "AmazonEventBridgeException"),
    "mediaconvert": ("MediaConvert", "AWSMediaConvertException"),
}


@functools.cache
def _modelled_errors(service: str) -> dict[str, str]:
    """Error code → exception shape name, from botocore's model of the service."""
    model = botocore.session.get_session().get_service_model(service)
    return {shape.error_code: shape.name for shape in model.error_shapes}


def exception_name(prefix: str, shape: str) -> str:
    """Step Functions' name for a modelled error: the SDK's class, which always ends in "Exception"."""
    return f"{prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"


def modelled_exception_names(service: str, prefix: str) -> set[str]:
    """Every name Step Functions can give a modelled error of `service` under `prefix`."""
    return {exception_name(prefix, shape) for shape in _modelled_errors(service).values()}


def java_v1_error_name(service: str, code: str) -> str:
    prefix, base = JAVA_V1_NAMING[service]
    shape = _modelled_errors(service).get(code)
    return exception_name(prefix, shape) if shape else f"{prefix}.{base}"
