"""What the functions' fork server imports once, so each new execution environment starts warm on them.

boto3, and what every handler imports: Powertools' Logger, Metrics and Tracer, with the X-Ray SDK
that Tracer loads (its recorder makes a boto3 client as it is imported: a third of a handler's
init). Each worker is a fork of the server, with its own copy of all of it. What only some
handlers import (Pillow, pillow-heif, the schema validators) and the handlers' own modules are
imported in each worker, as Lambda's init imports them: that is the Init Duration the logs report,
less these shared libraries.
"""

import boto3  # noqa: F401
import botocore.client
import botocore.session  # noqa: F401

import rekflow.local.lambda_context
import rekflow.local.sandbox  # noqa: F401

try:  # the layer's libraries: a function without them still starts, and imports what it has
    import aws_lambda_powertools.metrics
    import aws_lambda_powertools.utilities.typing  # noqa: F401
    import aws_xray_sdk.core  # type: ignore[import-untyped]  # noqa: F401
except ImportError:
    pass
