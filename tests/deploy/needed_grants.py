"""What each role of the SAM-transformed template needs, action by action and resource by resource.

Derived from what uses the role: a state machine's ASL (each Task's integration and its Parameters: the function, the
bucket and key prefix, the table, the topic, the state machine, the event bus), a function's code (its AWS calls read
through botocore's model, and the bucket, prefix and tables its environment names), an EventBridge rule's target,
and the services a role is passed to (Rekognition's NotificationChannel, MediaConvert's CreateJob). Every resource is
resolved as the deployed stack would name it (resolved_policies.Resolver), so a grant compares as a string.

A grant on "*" is needed only for the actions of allowed_wildcards.csv, those whose row in the Service Authorization
Reference lists no resource type the call names.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekflow import PROJECT_ROOT
from rekflow.local.state_cases import states_by_name
from rekflow.local.template import Template
from tests.deploy.handler_calls import Call, client_calls
from tests.deploy.resolved_policies import ACCOUNT_ID, REGION, Resolver, listed
from tests.unit.test_template import LOG_DELIVERY_ACTIONS, OPTIMISED, table_calls

HERE = Path(__file__).resolve().parent
ALLOWED_WILDCARDS = HERE / "allowed_wildcards.csv"

Grant = tuple[str, str]  # (IAM action, resource ARN or ARN pattern, or "*")

# Where a key the ASL writes comes from, when it is a path into the state: the function that makes it, and the
# environment variable the key starts with (lambdas/build_results/results_document.py makes
# f"{results_prefix}{asset id}.json").
KEY_PREFIXES = {"$.outcome.resultsKey": ("BuildResultsFunction", "RESULTS_PREFIX")}
# The bucket of the object being analysed, as the ASL and the handlers read it from the state.
ASSET_BUCKET_PATH = "$.asset.bucket"
# What following a child execution adds to states:startExecution.sync(:2), and the rule Step Functions watches it
# through (https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html).
FOLLOW_EXECUTION = ("states:DescribeExecution", "states:StopExecution")
EXECUTION_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
# mediaconvert:createJob.sync as the Step Functions guide's least-privilege policy scopes it: CreateJob on the
# account's queues, presets and job templates, GetJob/CancelJob on jobs (tagged by Step Functions, a condition),
# and the managed rule (https://docs.aws.amazon.com/step-functions/latest/dg/connect-mediaconvert.html).
MEDIACONVERT_CREATE_ON = ("queues/*", "presets/*", "jobTemplates/*")
MEDIACONVERT_FOLLOW = ("mediaconvert:GetJob", "mediaconvert:CancelJob")
MEDIACONVERT_RULE = "StepFunctionsGetEventsForMediaConvertJobRule"
# A Distributed Map's ResultWriter writes its results with multipart uploads
# (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
RESULT_WRITER_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
WATCH_RULE_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
# The objects the events a function receives name, by who wrote them: (writer, its bucket variable, its prefix
# variable). The Media Analyzed event carries resultsLocation, the document Build results named
# (lambdas/build_results/results_document.py), which SearchIndexFunction reads and, for a deleted upload, deletes.
EVENT_OBJECTS = {"SearchIndexFunction": (("BuildResultsFunction", "RESULTS_BUCKET", "RESULTS_PREFIX"),)}
S3_BUCKET_ACTIONS = {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"}
S3_READS = {"s3:GetObject", "s3:GetObjectVersion"}
# What an asynchronous invocation's destination needs, by the destination's service.
DESTINATION_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction"}
GLUE_DATABASE_ACTIONS = {"glue:GetDatabase"}
OPTIMIZER_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
OPTIMIZER_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
FIREHOSE_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")
FIREHOSE_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# The optimised integrations' IAM actions: the analysis machines' (tests/unit/test_template.py) and the backfill's.
INTEGRATION_ACTIONS = OPTIMISED | {"dynamodb:getItem": "dynamodb:GetItem"}


class CannotDerive(Exception):
    """The ASL or a handler calls something this module cannot name a resource for: teach it, with a source."""


@dataclass(frozen=True)
class AllowedWildcard:
    action: str
    why: str
    url: str
    unused_resource_type: str  # a resource type the action has, which the call never names ("" if none)
    naming_parameter: str  # the request parameter that would name it


def allowed_wildcards() -> dict[str, AllowedWildcard]:
    with ALLOWED_WILDCARDS.open(encoding="utf-8", newline="") as rows:
        return {row["action"]: AllowedWildcard(**row) for row in csv.DictReader(rows)}


def s3_objects(bucket: str, prefix: str = "") -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def s3_bucket(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def account_arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def machine_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


class NeededGrants:
    """Needed grants per role logical id, for one transformed template."""

    def __init__(self, transformed: dict[str, Any], source: Template) -> None:
        self.resources = transformed["Resources"]
        self.source = source
        self.resolver = Resolver(transformed)
        self.wildcards = allowed_wildcards()
        self.by_role: dict[str, set[Grant]] = {}  # each grant needed, exactly
        self.any_of: dict[str, dict[str, set[str]]] = {}  # role -> action -> resources, one or more of them needed
        self.problems: list[str] = []  # what could not be derived, each a failure of the check
        self.asset_bucket = self._asset_bucket()
        self._derive()

    # ------------------------------------------------------------ who uses each role
    def _derive(self) -> None:
        role_ids = {self.resolver.arn(rid): rid for rid, r in self.resources.items() if r["Type"] == "AWS::IAM::Role"}
        for logical_id, resource in self.resources.items():
            props = resource.get("Properties", {})
            try:
                if resource["Type"] == "AWS::StepFunctions::StateMachine":
                    self._add(props["RoleArn"], self.machine_grants(logical_id))
                    for state in self.definition(logical_id).values():
                        self._passed_role_grants(state, role_ids)
                elif resource["Type"] == "AWS::Lambda::Function":
                    role_id = self._role_id(props["Role"])
                    for action, resources in self.function_choices(logical_id).items():
                        self.any_of.setdefault(role_id, {}).setdefault(action, set()).update(resources)
                elif resource["Type"] == "AWS::Lambda::EventInvokeConfig":
                    function = self.resources[props["FunctionName"]["Ref"]]["Properties"]
                    self._add(function["Role"], self.destination_grants(props))
                elif resource["Type"] == "AWS::Glue::TableOptimizer":
                    config = props["TableOptimizerConfiguration"]
                    self._add(config["RoleArn"], self.optimizer_grants(self.resolver.resolve(props)))
                elif resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
                    destination = props.get("IcebergDestinationConfiguration")
                    if destination is None:
                        raise CannotDerive("a Firehose destination other than Iceberg")
                    self._add(destination["RoleARN"], self.iceberg_stream_grants(self.resolver.resolve(destination)))
                elif resource["Type"] == "AWS::Events::Rule":
                    for target in props.get("Targets", []):
                        if "RoleArn" in target:
                            self._add(target["RoleArn"], self.rule_target_grants(target))
            except CannotDerive as cannot:
                self.problems.append(f"{logical_id}: {cannot}")

    def _role_id(self, role_arn: Any) -> str:
        role_id, attribute = role_arn["Fn::GetAtt"]
        assert attribute == "Arn", role_arn
        return str(role_id)

    def _add(self, role_arn: Any, grants: set[Grant]) -> None:
        self.by_role.setdefault(self._role_id(role_arn), set()).update(grants)

    def anywhere(self, action: str) -> Grant:
        if action not in self.wildcards:
            raise CannotDerive(f"{action}: no resource derived, and not in {ALLOWED_WILDCARDS.name}")
        return action, "*"

    # ------------------------------------------------------------ state machines
    def definition(self, machine_id: str) -> dict[str, dict[str, Any]]:
        """The machine's states by name, with its DefinitionSubstitutions applied as CloudFormation would."""
        props = self.resources[machine_id]["Properties"]
        text = str(self.resolver.resolve(props["DefinitionString"]))
        substitutions = self.resolver.resolve(props.get("DefinitionSubstitutions", {}))
        text = re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: str(substitutions[m.group(1)]), text)
        return states_by_name(json.loads(text))

    def machine_grants(self, machine_id: str) -> set[Grant]:
        props = self.resources[machine_id]["Properties"]
        grants: set[Grant] = set()
        for state in self.definition(machine_id).values():
            if "Resource" in state:
                grants |= self.task_grants(state)
            if state.get("Type") == "Map":
                grants |= self.map_grants(machine_id, state)
        if props.get("LoggingConfiguration", {}).get("Destinations"):
            # Step Functions' own log delivery (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
            grants |= {self.anywhere(action) for action in LOG_DELIVERY_ACTIONS}
        return grants

    def bucket(self, parameters: dict[str, Any]) -> str:
        if "Bucket" in parameters:
            return str(parameters["Bucket"])
        if parameters.get("Bucket.$") == ASSET_BUCKET_PATH:
            return self.asset_bucket
        raise CannotDerive(f"which bucket is {parameters}?")

    def key_prefix(self, parameters: dict[str, Any]) -> str:
        """The prefix every key of this call starts with: "" where keys are the uploads' own names."""
        if "Key" in parameters:
            return str(parameters["Key"])
        path = parameters.get("Key.$", parameters.get("Name.$", ""))
        if path in KEY_PREFIXES:
            function, variable = KEY_PREFIXES[path]
            return str(self.environment(function)[variable])
        return ""

    def task_grants(self, state: dict[str, Any]) -> set[Grant]:
        resource = state["Resource"]
        params = state.get("Parameters", {})
        integration, _, pattern = resource.removeprefix("arn:aws:states:::").partition(".")
        if integration.startswith("aws-sdk:"):
            return self.sdk_grants(integration, params)
        action = INTEGRATION_ACTIONS.get(integration)
        if action is None:
            raise CannotDerive(f"integration {resource}")
        if integration == "lambda:invoke":
            # The ASL calls the unqualified ARN, which an unqualified ARN in the policy matches
            # (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html).
            return {(action, str(params["FunctionName"]))}
        if integration.startswith("dynamodb:"):
            return {(action, table_arn(params["TableName"]))}
        if integration == "events:putEvents":
            buses = {entry["EventBusName"] for entry in params["Entries"]}
            return {(action, account_arn("events", f"event-bus/{bus}")) for bus in buses}
        if integration == "sns:publish":
            return {(action, str(params["TopicArn"]))} | self.topic_key_grants(str(params["TopicArn"]))
        if integration == "states:startExecution":
            machine = str(params["StateMachineArn"])
            grants = {(action, machine)}
            if pattern.startswith("sync"):
                executions = account_arn("states", f"execution:{machine_name(machine)}:*")
                grants |= {(follow, executions) for follow in FOLLOW_EXECUTION}
                grants |= {(watch, account_arn("events", f"rule/{EXECUTION_RULE}")) for watch in WATCH_RULE_ACTIONS}
            return grants
        if integration == "mediaconvert:createJob":
            grants = {(action, account_arn("mediaconvert", scope)) for scope in MEDIACONVERT_CREATE_ON}
            grants.add(("iam:PassRole", str(params["Role"])))
            if pattern == "sync":
                grants |= {(follow, account_arn("mediaconvert", "jobs/*")) for follow in MEDIACONVERT_FOLLOW}
                grants |= {(watch, account_arn("events", f"rule/{MEDIACONVERT_RULE}")) for watch in WATCH_RULE_ACTIONS}
            return grants
        raise CannotDerive(f"integration {resource}")

    def sdk_grants(self, integration: str, params: dict[str, Any]) -> set[Grant]:
        _, service, api = integration.split(":")
        action = f"{service}:{api[0].upper()}{api[1:]}"
        if service == "s3":
            objects = s3_objects(self.bucket(params), self.key_prefix(params))
            if api == "headObject":  # S3 authorises HeadObject as s3:GetObject (S3 API Reference, HeadObject)
                return {("s3:GetObject", objects)}
            if api == "putObject":
                return {(action, objects)}
            if api == "putObjectTagging":
                # Tagging a version needs s3:PutObjectVersionTagging too
                # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html).
                versioned = {"VersionId", "VersionId.$"} & set(params)
                return {(action, objects)} | ({("s3:PutObjectVersionTagging", objects)} if versioned else set())
        if service == "dynamodb":
            return {(action, table_arn(params["TableName"]))}
        if service == "rekognition":
            # Rekognition reads the S3 object with the caller's permissions; a Version makes it GetObjectVersion.
            grants = {self.anywhere(action)}
            for media in ("Image", "Video"):
                s3_object = params.get(media, {}).get("S3Object")
                if s3_object:
                    objects = s3_objects(self.bucket(s3_object), self.key_prefix(s3_object))
                    grants.add(("s3:GetObject", objects))
                    if {"Version", "Version.$"} & set(s3_object):
                        grants.add(("s3:GetObjectVersion", objects))
            if "NotificationChannel" in params:
                grants.add(("iam:PassRole", str(params["NotificationChannel"]["RoleArn"])))
            return grants
        raise CannotDerive(f"integration {integration}")

    def map_grants(self, machine_id: str, state: dict[str, Any]) -> set[Grant]:
        grants: set[Grant] = set()
        processor = state.get("ItemProcessor", {}).get("ProcessorConfig", {})
        if processor.get("Mode") == "DISTRIBUTED":
            # Child workflows are executions of the machine itself
            # (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
            own = self.resolver.arn(machine_id)
            grants.add(("states:StartExecution", own))
            executions = account_arn("states", f"execution:{machine_name(own)}/*")
            grants |= {(follow, executions) for follow in FOLLOW_EXECUTION}
        reader = state.get("ItemReader")
        if reader:
            if reader["Resource"] != "arn:aws:states:::s3:listObjectsV2":
                raise CannotDerive(f"ItemReader {reader['Resource']}")
            grants.add(("s3:ListBucket", s3_bucket(self.bucket(reader["Parameters"]))))
        writer = state.get("ResultWriter")
        if writer:
            if writer["Resource"] != "arn:aws:states:::s3:putObject":
                raise CannotDerive(f"ResultWriter {writer['Resource']}")
            place = writer["Parameters"]
            objects = s3_objects(self.bucket(place), str(place.get("Prefix", "")))
            grants |= {(action, objects) for action in RESULT_WRITER_ACTIONS}
        return grants

    def topic_key_grants(self, topic_arn: str) -> set[Grant]:
        """A publisher to a topic encrypted with a customer managed key needs kms:GenerateDataKey and kms:Decrypt on
        it (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
        for logical_id, resource in self.resources.items():
            if resource["Type"] == "AWS::SNS::Topic" and self.resolver.ref(logical_id) == topic_arn:
                key = resource.get("Properties", {}).get("KmsMasterKeyId")
                if key is None:
                    return set()
                if set(key) != {"Ref"}:
                    raise CannotDerive(f"topic {logical_id}'s key {key}: not a key of the template")
                return {(action, self.resolver.arn(key["Ref"])) for action in TOPIC_KEY_ACTIONS}
        raise CannotDerive(f"topic {topic_arn}: not a topic of the template")

    # ------------------------------------------------------------ roles handed to a service
    def _passed_role_grants(self, state: dict[str, Any], role_ids: dict[str, str]) -> None:
        params = state.get("Parameters", {})
        channel = params.get("NotificationChannel")
        if channel:
            # Rekognition publishes the job's completion to the topic as the role it is given.
            role = {"Fn::GetAtt": [role_ids[channel["RoleArn"]], "Arn"]}
            self._add(role, {("sns:Publish", str(channel["SNSTopicArn"]))})
        if state.get("Resource", "").startswith("arn:aws:states:::mediaconvert:createJob"):
            # MediaConvert reads each input and writes each output as the role it is given.
            role = {"Fn::GetAtt": [role_ids[params["Role"]], "Arn"]}
            settings = params["Settings"]
            grants = {("s3:GetObject", self.format_location(i["FileInput.$"])) for i in settings["Inputs"]}
            for group in settings["OutputGroups"]:
                destination = group["OutputGroupSettings"]["FileGroupSettings"]["Destination.$"]
                grants.add(("s3:PutObject", self.format_location(destination)))
            self._add(role, grants)

    def format_location(self, expression: str) -> str:
        """The objects an S3 URL built with States.Format('s3://{}/<prefix>{}…', $.asset.bucket, …) can name."""
        match = re.fullmatch(r"States\.Format\('s3://\{\}/([^{}']*)\{\}[^']*',\s*([^,)]+),.*\)", expression)
        if not match or match.group(2).strip() != ASSET_BUCKET_PATH:
            raise CannotDerive(f"S3 location {expression}")
        return s3_objects(self.asset_bucket, match.group(1))

    # ------------------------------------------------------------ functions
    def environment(self, function_id: str) -> dict[str, Any]:
        variables = self.resources[function_id]["Properties"].get("Environment", {}).get("Variables", {})
        return dict(self.resolver.resolve(variables))

    def function_choices(self, function_id: str) -> dict[str, set[str]]:
        """Per action the function's code calls, the resources it may call it on (any of them will do: a bucket
        an argument names from the event is the asset's or one the event carries, a key under any prefix the
        function knows)."""
        props = self.source.resources[function_id]["Properties"]
        code, module = PROJECT_ROOT / props["CodeUri"], str(props["Handler"]).split(".")[0]
        environment = self.environment(function_id)
        choices: dict[str, set[str]] = {}
        for call in client_calls(code, module):
            resources = choices.setdefault(call.action, set())
            if call.action.startswith("s3:"):
                resources |= self.s3_resources(function_id, call, environment)
            elif call.action.startswith("firehose:") and call.arguments.get("DeliveryStreamName"):
                stream = environment[call.arguments["DeliveryStreamName"]]
                resources.add(account_arn("firehose", f"deliverystream/{stream}"))
            elif not call.action.startswith("dynamodb:"):
                resources.add(self.anywhere(call.action)[1])
        for action, variable in table_calls(code, module):  # the calls' tables, Powertools' idempotency store's too
            choices.setdefault(action, set()).add(table_arn(environment[variable]))
        if [action for action, resources in choices.items() if not resources]:
            raise CannotDerive(f"{function_id}: on what? {sorted(a for a, r in choices.items() if not r)}")
        return choices

    def s3_resources(self, function_id: str, call: Call, environment: dict[str, Any]) -> set[str]:
        variable = call.arguments.get("Bucket")
        buckets = {environment[variable]} if variable else {self.asset_bucket} | set(self.event_objects(function_id))
        if call.action in S3_BUCKET_ACTIONS:
            return {s3_bucket(bucket) for bucket in buckets}
        known = [value for name, value in environment.items() if name.endswith("_PREFIX")]
        resources = set()
        for bucket in buckets:
            if bucket == self.asset_bucket and call.action in S3_READS:
                prefixes = [""]  # the uploads: their keys are the users'
            else:
                prefixes = known + self.event_objects(function_id).get(bucket, [])
            if not prefixes:
                raise CannotDerive(f"{function_id}: {call.action} in {bucket} under which prefix?")
            resources |= {s3_objects(bucket, prefix) for prefix in prefixes}
        return resources

    def event_objects(self, function_id: str) -> dict[str, list[str]]:
        """bucket -> key prefixes of the objects the events a function receives name (EVENT_OBJECTS)."""
        found: dict[str, list[str]] = {}
        for writer, bucket_variable, prefix_variable in EVENT_OBJECTS.get(function_id, ()):
            environment = self.environment(writer)
            found.setdefault(environment[bucket_variable], []).append(environment[prefix_variable])
        return found

    def destination_grants(self, config: dict[str, Any]) -> set[Grant]:
        """What SAM grants a function's role for its asynchronous invocations' destinations
        (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
        grants = set()
        for outcome in ("OnFailure", "OnSuccess"):
            destination = config.get("DestinationConfig", {}).get(outcome, {}).get("Destination")
            if destination:
                arn = str(self.resolver.resolve(destination))
                service = arn.split(":")[2]
                if service not in DESTINATION_ACTIONS:
                    raise CannotDerive(f"destination {arn}")
                grants.add((DESTINATION_ACTIONS[service], arn))
        return grants

    # ------------------------------------------------------------ service roles
    def table_location(self, database: str, table: str) -> tuple[str, str]:
        """(bucket, key prefix) of a Glue table of the template."""
        for resource in self.resources.values():
            props = self.resolver.resolve(resource.get("Properties", {}))
            if resource["Type"] == "AWS::Glue::Table" and (props["DatabaseName"], props["Name"]) == (database, table):
                iceberg = props.get("OpenTableFormatInput", {}).get("IcebergInput", {}).get("IcebergTableInput", {})
                location = iceberg.get("Location") or props["TableInput"]["StorageDescriptor"]["Location"]
                bucket, _, prefix = str(location).removeprefix("s3://").partition("/")
                return bucket, prefix.rstrip("/") + "/"
        raise CannotDerive(f"no Glue table {database}.{table} in the template")

    def glue_table_grants(self, actions: tuple[str, ...], database: str, table: str) -> set[Grant]:
        """Glue authorises a table's actions on the catalog, the database and the table, a database's on the catalog
        and the database (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""
        arns = (account_arn("glue", "catalog"), account_arn("glue", f"database/{database}"))
        table_arns = (*arns, account_arn("glue", f"table/{database}/{table}"))
        return {(a, arn) for a in actions for arn in (arns if a in GLUE_DATABASE_ACTIONS else table_arns)}

    def optimizer_grants(self, props: dict[str, Any]) -> set[Grant]:
        """A Glue table optimizer rewrites and expires the table's files, commits snapshots and logs to its log group
        (https://docs.aws.amazon.com/glue/latest/dg/optimization-prerequisites.html)."""
        database, table = props["DatabaseName"], props["TableName"]
        bucket, prefix = self.table_location(database, table)
        grants = {(action, s3_objects(bucket, prefix)) for action in OPTIMIZER_OBJECT_ACTIONS}
        grants.add(("s3:ListBucket", s3_bucket(bucket)))
        grants |= self.glue_table_grants(("glue:GetTable", "glue:UpdateTable"), database, table)
        log_group = account_arn("logs", f"log-group:/aws-glue/iceberg-{props['Type'].replace('_', '-')}/logs:*")
        return grants | {(action, log_group) for action in OPTIMIZER_LOG_ACTIONS}

    def iceberg_stream_grants(self, destination: dict[str, Any]) -> set[Grant]:
        """Firehose writing Iceberg tables: the guide's policy without CreateTable/CreateDatabase (the tables are the
        template's), on the destination tables, their files, the error prefix and the log stream
        (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-iceberg)."""
        grants: set[Grant] = set()
        bucket = destination["S3Configuration"]["BucketARN"].removeprefix("arn:aws:s3:::")
        prefixes = [destination["S3Configuration"].get("ErrorOutputPrefix", "")]
        for table in destination["DestinationTableConfigurationList"]:
            database, name = table["DestinationDatabaseName"], table["DestinationTableName"]
            grants |= self.glue_table_grants(("glue:GetTable", "glue:GetDatabase", "glue:UpdateTable"), database, name)
            located, prefix = self.table_location(database, name)
            if located != bucket:
                raise CannotDerive(f"table {database}.{name} lies outside the stream's bucket")
            prefixes.append(prefix)
        grants |= {(action, s3_objects(bucket, prefix)) for action in FIREHOSE_OBJECT_ACTIONS for prefix in prefixes}
        grants |= {(action, s3_bucket(bucket)) for action in FIREHOSE_BUCKET_ACTIONS}
        logging = destination.get("CloudWatchLoggingOptions", {})
        if logging.get("Enabled"):
            stream = f"log-group:{logging['LogGroupName']}:log-stream:{logging['LogStreamName']}"
            grants.add(("logs:PutLogEvents", account_arn("logs", stream)))
        return grants

    # ------------------------------------------------------------ rules
    def rule_target_grants(self, target: dict[str, Any]) -> set[Grant]:
        arn = self.resolver.resolve(target["Arn"])
        if ":states:" not in arn:
            raise CannotDerive(f"rule target {arn}")
        return {("states:StartExecution", arn)}

    # ------------------------------------------------------------ the asset's bucket
    def _asset_bucket(self) -> str:
        """The one bucket whose uploads the machines analyse: the bucket of every Object Created rule that starts a
        state machine, and the one the backfill lists."""
        names = set()
        for resource in self.resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Events::Rule" and props.get("EventPattern", {}).get("source") == ["aws.s3"]:
                names.update(self.resolver.resolve(props["EventPattern"]["detail"]["bucket"]["name"]))
        for machine_id, resource in self.resources.items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                for state in self.definition(machine_id).values():
                    if "ItemReader" in state:
                        names.add(state["ItemReader"]["Parameters"]["Bucket"])
        if len(names) != 1:
            raise CannotDerive(f"the uploads come from more than one bucket: {sorted(names)}")
        return str(names.pop())


def role_grants(statements: list[tuple[str, dict[str, Any]]]) -> dict[Grant, list[str]]:
    """(action, resource) pairs a role's Allow statements grant, with the statements that grant each."""
    granted: dict[Grant, list[str]] = {}
    for where, statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            granted.setdefault(("NotAction/NotResource", "*"), []).append(where)
            continue
        for action in listed(statement["Action"]):
            for resource in listed(statement["Resource"]):
                granted.setdefault((str(action), str(resource)), []).append(where)
    return granted
