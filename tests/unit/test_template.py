"""template.yaml is complete for its ASL and grants exactly what the code calls (cfn-lint runs in tests/deploy)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import botocore.session
import pytest

from rekflow import PROJECT_ROOT, TEMPLATE_PATH
from rekflow.local.stack import render_definition
from rekflow.local.state_cases import states_by_name
from rekflow.local.template import Template

# IAM actions an optimised integration needs (aws-sdk integrations map directly: service:Operation).
OPTIMISED = {
    "lambda:invoke": "lambda:InvokeFunction",
    "dynamodb:putItem": "dynamodb:PutItem",
    "dynamodb:updateItem": "dynamodb:UpdateItem",
    "sns:publish": "sns:Publish",
    "events:putEvents": "events:PutEvents",
    "states:startExecution": "states:StartExecution",
    "mediaconvert:createJob": "mediaconvert:CreateJob",
}
# What Run a Job (.sync) adds, by integration: following and cancelling the job, and the managed EventBridge rule
# Step Functions watches it through (https://docs.aws.amazon.com/step-functions/latest/dg/connect-mediaconvert.html).
SYNC_ACTIONS = {
    "mediaconvert:createJob": {
        "mediaconvert:GetJob",
        "mediaconvert:CancelJob",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    }
}
# Integrations whose request names a role the service acts as: the caller must be allowed to pass it.
PASSES_A_ROLE = {"mediaconvert:createJob": "Role"}
# The state machines that run rekflow's analysis, with the template parameters under which each exists.
ANALYSIS_MACHINES = {"MediaAnalysisStateMachine": {}, "ImageAnalysisStateMachine": {"ImageWorkflow": "EXPRESS"}}
# Rekognition reads the S3 object with the caller's permissions; a Version makes it GetObjectVersion.
REKOGNITION_READS = {"s3:GetObject", "s3:GetObjectVersion"}
# S3 authorises HeadObject as s3:GetObject.
# IAM's names for S3 calls whose action is not the operation's name (Amazon S3 API Reference, each operation's
# "Permissions"): ListObjectVersions needs s3:ListBucketVersions, ListObjectsV2 s3:ListBucket.
HANDLER_ACTION_OVERRIDES = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListObjectsV2": "s3:ListBucket",
}
# Without s3:ListBucket, S3 answers HeadObject on a missing key with 403, not 404 (S3 API Reference, HeadObject,
# "Permissions"): code that tells "gone" from "denied" needs it on the bucket.
TELLS_MISSING_FROM_DENIED = {"s3:HeadObject": "s3:ListBucket"}
# A state machine with Logging needs the log-delivery actions on "*" (Step Functions developer guide, IAM policies
# for logging to CloudWatch Logs: https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# With Tracing enabled it needs these (https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html). SAM
# grants them itself: it attaches the AWS managed policy AWSXrayWriteOnlyAccess to the role it generates for a
# state machine with Tracing (aws-sam-translator, samtranslator/model/xray_utils.py); tests/deploy/test_roles.py
# checks that on the transformed template.
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}
# What Powertools' DynamoDB idempotency store calls on its table.
IDEMPOTENCY_ACTIONS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def template(**parameters: str) -> Template:
    return Template.load(TEMPLATE_PATH, parameter_overrides=parameters)


@pytest.mark.parametrize("machine", ANALYSIS_MACHINES)
def test_every_definition_substitution_is_defined_and_used(machine):
    t = template(**ANALYSIS_MACHINES[machine])
    props = t.resources[machine]["Properties"]
    raw = (PROJECT_ROOT / props["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", raw))
    assert used == set(props["DefinitionSubstitutions"]), "placeholders and substitutions differ"
    rendered = render_definition(t, machine)
    assert "${" not in rendered
    json.loads(rendered)


def asl_actions(machine: str = "MediaAnalysisStateMachine") -> set[str]:
    uri = template(**ANALYSIS_MACHINES[machine]).resources[machine]["Properties"]["DefinitionUri"]
    definition = json.loads((PROJECT_ROOT / uri).read_text())
    actions = set()
    for state in states_by_name(definition).values():
        resource = state.get("Resource", "")
        if not resource.startswith("arn:aws:states:::"):
            continue
        integration, _, pattern = resource.removeprefix("arn:aws:states:::").partition(".")
        if pattern == "sync":
            actions |= SYNC_ACTIONS[integration]
        if PASSES_A_ROLE.get(integration) in state.get("Parameters", {}):
            actions.add("iam:PassRole")
        if integration.startswith("aws-sdk:"):
            _, service, api = integration.split(":")
            actions.add(f"{service}:{api[0].upper()}{api[1:]}")
            if service == "rekognition":
                actions |= REKOGNITION_READS
            if "NotificationChannel" in state.get("Parameters", {}):
                actions.add("iam:PassRole")  # Rekognition publishes completions as the role passed to it
        else:
            actions.add(OPTIMISED[integration])
    return actions


def policy_statements(policies: list) -> list[dict]:
    """The statements of a resource's Policies, those of the template's own managed policies (!Ref) included."""
    resources = template().body["Resources"]
    found = []
    for policy in policies:
        if set(policy) == {"Ref"}:
            managed = resources[policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", policy
            policy = managed["Properties"]["PolicyDocument"]
        found.extend(policy.get("Statement", []))
    return found


def allowed_actions(policies: list) -> set[str]:
    actions = {"lambda:InvokeFunction" for policy in policies if "LambdaInvokePolicy" in policy}
    for statement in policy_statements(policies):
        listed = statement["Action"]
        actions |= set([listed] if isinstance(listed, str) else listed)
    return actions


def handler_sources(code_dir: Path, handler_module: str) -> list[Path]:
    """The handler's module and the modules of its own directory it imports, transitively."""
    found, pending = [], [handler_module]
    while pending:
        path = code_dir / f"{pending.pop()}.py"
        if path in found:
            continue
        found.append(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (code_dir / f"{node.module}.py").exists():
                pending.append(node.module)
    return found


def handler_actions(code_dir: Path, handler_module: str) -> set[str]:
    """AWS calls made by a function's code: client method names mapped through botocore's service model."""
    session = botocore.session.get_session()
    actions = set()
    trees = []
    for source in handler_sources(code_dir, handler_module):
        text = source.read_text()
        if "DynamoDBPersistenceLayer(" in text:
            actions |= IDEMPOTENCY_ACTIONS
        trees.append(ast.parse(text))
    calls = [n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Call)]
    # Clients may be made in one module and used in another, so services and calls are matched across all.
    clients = {
        n.args[0].value
        for n in calls
        if getattr(n.func, "attr", "") == "client" and n.args and isinstance(n.args[0], ast.Constant)
    }
    for service in clients:
        model = session.get_service_model(service)
        by_method = {botocore.xform_name(op): op for op in model.operation_names}
        for node in calls:
            if getattr(node.func, "attr", "") in by_method:
                # IAM names actions by the signing name: boto3's "stepfunctions" signs as "states".
                action = f"{model.signing_name}:{by_method[node.func.attr]}"
                actions.add(HANDLER_ACTION_OVERRIDES.get(action, action))
                if action in TELLS_MISSING_FROM_DENIED:
                    actions.add(TELLS_MISSING_FROM_DENIED[action])
                if any(k.arg == "VersionId" or k.arg is None for k in node.keywords) and service == "s3":
                    actions.add("s3:GetObjectVersion")
    return actions


def state_machine_service_actions(props: dict) -> tuple[set[str], set[str]]:
    """(actions the Policies must allow, actions SAM's generated role adds) for what the machine itself does."""
    needed, added_by_sam = set(), set()
    if props.get("Logging", {}).get("Destinations"):
        needed |= LOG_DELIVERY_ACTIONS
    if props.get("Tracing", {}).get("Enabled"):
        added_by_sam |= XRAY_ACTIONS
    return needed, added_by_sam


@pytest.mark.parametrize("machine", ANALYSIS_MACHINES)
def test_state_machine_policy_allows_exactly_what_the_asl_calls(machine):
    props = template(**ANALYSIS_MACHINES[machine]).resources[machine]["Properties"]
    needed, added_by_sam = state_machine_service_actions(props)
    # The machine logs and traces: its role needs the service's own actions on top of the ASL's calls.
    assert needed, f"{machine} sets Logging: the log-delivery actions are required"
    assert added_by_sam, f"{machine} sets Tracing: SAM adds the X-Ray actions"
    allowed = allowed_actions(props["Policies"])
    assert allowed == asl_actions(machine) | needed
    assert not allowed & added_by_sam, "X-Ray is granted by SAM's AWSXrayWriteOnlyAccess: do not repeat it"


@pytest.mark.parametrize("machine", ANALYSIS_MACHINES)
def test_log_delivery_statement_names_no_resource(machine):
    # The log-delivery actions take no resource ARN: a narrower Resource makes CloudFormation fail the create.
    props = template(**ANALYSIS_MACHINES[machine]).resources[machine]["Properties"]
    for statement in policy_statements(props["Policies"]):
        listed = statement["Action"]
        if set([listed] if isinstance(listed, str) else listed) & LOG_DELIVERY_ACTIONS:
            assert statement["Resource"] == "*"


def test_uploads_start_exactly_one_analysis_machine_for_each_image_workflow():
    for workflow, entry in (("STANDARD", "MediaAnalysisStateMachine"), ("EXPRESS", "ImageAnalysisStateMachine")):
        t = template(ImageWorkflow=workflow)
        enabled = [
            name
            for name, resource in t.resources_of_type("AWS::Serverless::StateMachine").items()
            for event in resource["Properties"].get("Events", {}).values()
            if event["Type"] == "EventBridgeRule"
            and event["Properties"]["Pattern"]["source"] == ["aws.s3"]
            and t.resolve(event["Properties"].get("State", "ENABLED")) == "ENABLED"
        ]
        assert enabled == [entry], workflow
    # Express workflows only support Request Response integrations, not .sync or .waitForTaskToken
    # (https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html).
    express = json.loads((PROJECT_ROOT / "statemachines/image_analysis_express.asl.json").read_text())
    resources = [state.get("Resource", "") for state in states_by_name(express).values()]
    assert not [r for r in resources if r.endswith((".waitForTaskToken", ".sync", ".sync:2"))]


def test_function_policies_allow_exactly_what_the_handlers_call():
    t = template()
    for logical_id, resource in t.resources_of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        called = handler_actions(PROJECT_ROOT / props["CodeUri"], str(props["Handler"]).split(".")[0])
        assert allowed_actions(props.get("Policies", [])) == called, logical_id


def test_asl_uses_no_account_ids_or_stack_names():
    raw = (PROJECT_ROOT / "statemachines/media_analysis.asl.json").read_text()
    assert not re.search(r"\d{12}", raw)
    assert "rekflow-" not in raw


def test_state_names_are_unique_across_the_whole_machine():
    # The States Language requires it; moto would not notice a duplicate inside another branch.
    definition = json.loads((PROJECT_ROOT / "statemachines/media_analysis.asl.json").read_text())
    names: list[str] = []

    def collect(machine: dict) -> None:
        for name, state in machine["States"].items():
            names.append(name)
            for branch in state.get("Branches", []):
                collect(branch)

    collect(definition)
    assert len(names) == len(set(names))


def environ_constants(tree: ast.AST) -> dict[str, str]:
    """Module constants read from the environment: NAME = os.environ["VAR"] → {NAME: VAR}."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if (
                isinstance(target, ast.Name)
                and ast.unparse(value.value) == "os.environ"
                and isinstance(value.slice, ast.Constant)
            ):
                found[target.id] = str(value.slice.value)
    return found


def table_calls(code_dir: Path, handler_module: str) -> set[tuple[str, str]]:
    """(IAM action, environment variable naming the table) of each DynamoDB call a function makes."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    by_method = {botocore.xform_name(op): op for op in model.operation_names}
    calls = set()
    for source in handler_sources(code_dir, handler_module):
        tree = ast.parse(source.read_text())
        constants = environ_constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            method = getattr(node.func, "attr", "")
            table = keywords.get("TableName")
            if method in by_method and isinstance(table, ast.Name) and table.id in constants:
                calls.add((f"dynamodb:{by_method[method]}", constants[table.id]))
            # Powertools' idempotency store makes its own calls on the table it is given.
            if getattr(node.func, "id", "") == "DynamoDBPersistenceLayer":
                name = keywords.get("table_name")
                if isinstance(name, ast.Subscript) and isinstance(name.slice, ast.Constant):
                    calls |= {(action, name.slice.value) for action in IDEMPOTENCY_ACTIONS}
    return calls


def _listed(value: object) -> list:
    return value if isinstance(value, list) else [value]


def test_each_table_call_is_allowed_on_that_table():
    # The action-set test above cannot see that an action is granted on the wrong table: the
    # completion callback once called UpdateItem on the jobs table with only GetItem/DeleteItem there.
    t = template()
    checked = 0
    for logical_id, resource in t.resources_of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        environment = props.get("Environment", {}).get("Variables", {})
        statements = [s for policy in props.get("Policies", []) for s in policy.get("Statement", [])]
        for action, variable in table_calls(PROJECT_ROOT / props["CodeUri"], str(props["Handler"]).split(".")[0]):
            table = environment[variable]["Ref"]
            arn = t.get_att(table, "Arn")
            allowed = [
                s for s in statements if action in _listed(s["Action"]) and arn in _listed(t.resolve(s["Resource"]))
            ]
            assert allowed, f"{logical_id} calls {action} on {table} ({variable}); its policy does not allow it there"
            checked += 1
    assert checked >= 5  # the callback's jobs-table update and its idempotency store, at least


def test_each_sqs_event_source_queue_hides_messages_six_times_as_long_as_its_function_runs():
    # Lambda refuses an SQS event source mapping whose function timeout exceeds the queue's visibility
    # timeout, and advises six times the function timeout (Lambda guide, services-sqs-configure); moto checks neither.
    t = template()
    default_timeout = t.body.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    checked = 0
    for logical_id, resource in t.resources_of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            visibility = int(t.resources[queue]["Properties"].get("VisibilityTimeout", 30))
            assert visibility >= 6 * int(props.get("Timeout", default_timeout)), (logical_id, queue)
            checked += 1
    assert checked >= 1


def test_the_review_rule_starts_a_review_which_may_publish_to_the_encrypted_review_topic():
    # The rule starts ReviewStateMachine as a role that may start only it; the machine publishes to the topic, whose
    # customer managed key its role may use (a publisher to an encrypted topic needs kms:GenerateDataKey and
    # kms:Decrypt: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), and nothing else publishes.
    t = template()
    topic = t.resources["ModerationReviewTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "ModerationReviewKey"}
    (target,) = t.resources["ModerationReviewRule"]["Properties"]["Targets"]
    assert (target["Arn"], target["RoleArn"]) == (
        {"Ref": "ReviewStateMachine"},
        {"Fn::GetAtt": ["ModerationReviewRuleRole", "Arn"]},
    )
    (policy,) = t.resources["ModerationReviewRuleRole"]["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("states:StartExecution", {"Ref": "ReviewStateMachine"})
    statements = policy_statements(t.resources["ReviewStateMachine"]["Properties"]["Policies"])
    (key_use,) = [s for s in statements if s.get("Sid") == "UseTheReviewTopicKey"]
    assert set(key_use["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert key_use["Resource"] == {"Fn::GetAtt": ["ModerationReviewKey", "Arn"]}
    assert "ModerationReviewTopicPolicy" not in t.resources, "EventBridge no longer publishes to the topic"


def test_the_review_rule_matches_the_event_the_state_machine_puts():
    t = template()
    substitutions = t.resolve(t.resources["MediaAnalysisStateMachine"]["Properties"]["DefinitionSubstitutions"])
    rule = t.resolve(t.resources["ModerationReviewRule"]["Properties"])
    assert rule["EventBusName"] == substitutions["EventBusName"]
    assert rule["EventPattern"]["source"] == [substitutions["EventSource"]]
    assert rule["EventPattern"]["detail-type"] == [substitutions["EventDetailType"]]
    # The pattern reads a field of the event detail that its schema requires.
    schema = json.loads((PROJECT_ROOT / "schemas/media-analyzed-event.schema.json").read_text())
    assert set(rule["EventPattern"]["detail"]) <= set(schema["required"])


def test_mediaconvert_grants_are_the_guides_least_privilege():
    # Scoped as the Step Functions guide's policy for mediaconvert:createJob.sync: GetJob and CancelJob only on jobs
    # Step Functions tagged, the role passed to MediaConvert alone, the one managed rule.
    t = template()
    statements = {
        s.get("Sid"): s for s in policy_statements(t.resources["MediaAnalysisStateMachine"]["Properties"]["Policies"])
    }
    follow = statements["FollowConversions"]
    assert follow["Condition"] == {"StringEquals": {"aws:ResourceTag/ManagedByService": "AWSStepFunctions"}}
    assert t.resolve(follow["Resource"]).endswith(":jobs/*")
    pass_role = statements["LetMediaConvertReadAndWrite"]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["MediaConvertRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}}
    assert t.resolve(statements["WatchConversions"]["Resource"]).endswith(
        ":rule/StepFunctionsGetEventsForMediaConvertJobRule"
    )
    # The role MediaConvert acts as reads uploads and writes only under the proxies prefix.
    role = t.resolve(t.resources["MediaConvertRole"]["Properties"])
    (trusted,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trusted["Principal"] == {"Service": "mediaconvert.amazonaws.com"}
    (policy,) = role["Policies"]
    grants = {s["Action"]: s["Resource"] for s in policy["PolicyDocument"]["Statement"]}
    bucket = t.get_att("MediaBucket", "Arn")
    prefix = t.body["Mappings"]["Proxies"]["Names"]["Prefix"]
    assert grants == {"s3:GetObject": f"{bucket}/*", "s3:PutObject": f"{bucket}/{prefix}*"}


@pytest.mark.parametrize("workflow", ["STANDARD", "EXPRESS"])
def test_the_object_created_rules_never_fire_on_the_analysable_copies(workflow):
    from moto.events.models import EventPattern

    from rekflow.local.s3_events import object_created_event

    t = template(ImageWorkflow=workflow)
    prefix = t.body["Mappings"]["Proxies"]["Names"]["Prefix"]
    bucket = t.ref("MediaBucket")
    for resource in t.resources_of_type("AWS::Serverless::StateMachine").values():
        for event in resource["Properties"].get("Events", {}).values():
            pattern = EventPattern.load(json.dumps(t.resolve(event["Properties"]["Pattern"])))
            assert pattern.matches_event(object_created_event(bucket, "photos/IMG_0001.HEIC", 10, "e", "v1"))
            assert not pattern.matches_event(object_created_event(bucket, f"{prefix}abc/proxy.jpg", 10, "e", "v1"))
            # A key that merely contains the prefix further in is an upload like any other.
            assert pattern.matches_event(object_created_event(bucket, f"albums/{prefix}x.jpg", 10, "e", "v1"))


def test_the_analysable_copies_expire():
    t = template()
    rules = t.resolve(t.resources["MediaBucket"]["Properties"]["LifecycleConfiguration"]["Rules"])
    (rule,) = [r for r in rules if r["Id"] == "ExpireAnalysableCopies"]
    assert rule["Prefix"] == t.body["Mappings"]["Proxies"]["Names"]["Prefix"]
    assert rule["Status"] == "Enabled"
    assert int(rule["ExpirationInDays"]) == int(t.parameter("ProxyRetentionDays"))
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
    # make_proxy and MediaConvert write there and nowhere else in the bucket.
    proxy = t.resources["MakeProxyFunction"]["Properties"]
    assert proxy["Environment"]["Variables"]["PROXY_PREFIX"] == {"Fn::FindInMap": ["Proxies", "Names", "Prefix"]}
