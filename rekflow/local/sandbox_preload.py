"""What the functions' fork server imports once, so each new execution environment starts warm on them.

The handlers' own modules (and what only they import: Pillow, jsonschema...) are imported in each
worker, as Lambda's init imports them: that is the cold start the REPORT lines show.
"""

import boto3  # noqa: F401
import botocore.client
import botocore.session  # noqa: F401

import rekflow.local.lambda_context
import rekflow.local.sandbox  # noqa: F401
