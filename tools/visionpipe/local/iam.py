"""IAM enforced in local mode: every call signed with a role's credentials is checked against that
role's policies, as AWS would check it, before it reaches moto or a local engine.

Why not moto's own authorization (INITIAL_NO_AUTH_ACTION_COUNT=0): it checks every service but S3,
SQS, IAM and STS against the resource "*", so a statement scoped to a table or a topic never
matches and everything would be denied; and it evaluates no Condition but a trust policy's. So
moto issues the credentials (STS AssumeRole on the role the template created) and keeps the
policies (IAM), and this module decides, with the API parameters at hand (botocore's
`before-parameter-build`, then `before-call`, which answers AccessDenied in place of the request).

Evaluation (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny wins, else an Allow is needed; Action/NotAction, Resource/NotResource with `*` and
`?` wildcards; conditions String*, Arn*, Bool, Null, the IfExists suffix and ForAnyValue/ForAllValues.
Each call's action(s) and resource ARN(s) follow the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html):
e.g. S3 HeadObject is s3:GetObject, ListObjectsV2 is s3:ListBucket with s3:prefix, CopyObject
reads the source and writes the target, TransactWriteItems checks each item's action, passing a
role is iam:PassRole with iam:PassedToService. S3 answers a missing object 403 to a caller
without s3:ListBucket on the bucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
"Permissions"); that is emulated here too.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from botocore import handlers as botocore_handlers

from visionpipe.local import service_limits

log = logging.getLogger("visionpipe.local")

PARAMS_KEY = "visionpipe_api_params"
_PREFIX = {  # botocore service name -> IAM action prefix, where they differ
    "stepfunctions": "states",
    "sagemaker-runtime": "sagemaker",
    "greengrassv2": "greengrass",
    "iot-data": "iot",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
}
_ACTION = {  # (service, operation) -> IAM action name, where it differs from the operation
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "GetBucketLocation"): "GetBucketLocation",
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
}
_PASSED_ROLE = {  # operations that pass a role to a service: (parameter, service principal)
    ("sagemaker", "CreateTrainingJob"): ("RoleArn", "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateModel"): ("ExecutionRoleArn", "sagemaker.amazonaws.com"),
    ("mediaconvert", "CreateJob"): ("Role", "mediaconvert.amazonaws.com"),
    ("stepfunctions", "CreateStateMachine"): ("roleArn", "states.amazonaws.com"),
}
_DYNAMODB_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


class AccessDenied(Exception):
    """What the caller gets, rendered as the service's AccessDenied error."""


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ policy evaluation


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    pattern = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(pattern, value, 0 if case else re.IGNORECASE) is not None


def _matches_any(patterns: Any, value: str, case: bool = True) -> bool:
    return any(_glob(str(p), value, case) for p in _as_list(patterns))


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: _glob(expected, actual),
    "StringNotLike": lambda actual, expected: not _glob(expected, actual),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: _glob(expected, actual),
    "ArnNotEquals": lambda actual, expected: actual != expected,
    "ArnNotLike": lambda actual, expected: not _glob(expected, actual),
    "Bool": lambda actual, expected: actual.lower() == str(expected).lower(),
}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    if operator == "Null":
        return (key not in context) == (str(expected).lower() == "true")
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = "Not" in operator
    test = _OPERATORS.get(operator)
    if test is None:
        raise AccessDenied(f"local IAM cannot evaluate the condition operator {operator!r}")
    lookup = {k.lower(): v for k, v in context.items()}
    if key.lower() not in lookup:
        return if_exists or (negated and not qualifier)
    actual = [str(v) for v in _as_list(lookup[key.lower()])]
    expected = [str(e) for e in _as_list(expected)]

    def one(value: str) -> bool:
        return all(test(value, e) for e in expected) if negated else any(test(value, e) for e in expected)

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    return any(one(v) for v in actual)


def statement_applies(statement: dict[str, Any], check: Check) -> bool:
    if "Action" in statement and not _matches_any(statement["Action"], check.action, case=False):
        return False
    if "NotAction" in statement and _matches_any(statement["NotAction"], check.action, case=False):
        return False
    if "Resource" in statement and not _matches_any(statement["Resource"], check.resource):
        return False
    if "NotResource" in statement and _matches_any(statement["NotResource"], check.resource):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, check.context):
                return False
    return True


def decide(policies: Iterable[dict[str, Any]], check: Check) -> str:
    """ "Allow", "ExplicitDeny" or "ImplicitDeny" of identity policies for one action on one resource."""
    allowed = False
    for policy in policies:
        for statement in _as_list(policy.get("Statement")):
            if statement_applies(statement, check):
                if statement.get("Effect") == "Deny":
                    return "ExplicitDeny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def trusts(trust_policy: dict[str, Any], service: str, check: Check) -> bool:
    """Whether a role's trust policy lets the service principal assume it."""
    for statement in _as_list(trust_policy.get("Statement")):
        principals = _as_list((statement.get("Principal") or {}).get("Service"))
        if (
            statement.get("Effect") == "Allow"
            and service in principals
            and statement_applies({k: v for k, v in statement.items() if k != "Principal"}, check)
        ):
            return True
    return False


# ------------------------------------------------------------------ what a call asks for


@dataclass(frozen=True)
class Account:
    region: str
    account_id: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


def _recipe_component(params: dict[str, Any]) -> str:
    recipe = params.get("inlineRecipe") or b""
    try:
        text = recipe.decode() if isinstance(recipe, bytes) else base64.b64decode(recipe).decode()
        return str((yaml.safe_load(text) or {}).get("ComponentName", "*"))
    except Exception:  # an unreadable recipe: the service refuses it after the IAM check
        return "*"


def _resources(service: str, operation: str, params: dict[str, Any], account: Account) -> list[str]:
    p = params
    if service == "s3":
        bucket, key = p.get("Bucket", "*"), p.get("Key")
        if key is not None:
            return [f"arn:{account.partition}:s3:::{bucket}/{key}"]
        return [f"arn:{account.partition}:s3:::{bucket}"]
    if service == "dynamodb":
        table = account.arn("dynamodb", f"table/{p.get('TableName', '*')}")
        return [f"{table}/index/{p['IndexName']}" if p.get("IndexName") else table]
    if service == "stepfunctions":
        for name in ("stateMachineArn", "executionArn", "resourceArn"):
            if p.get(name):
                return [p[name]]
    if service == "lambda" and p.get("FunctionName"):
        name = p["FunctionName"]
        return [name if name.startswith("arn:") else account.arn("lambda", f"function:{name}")]
    if service == "sagemaker":
        for name, kind in (
            ("TrainingJobName", "training-job"),
            ("ModelName", "model"),
            ("EndpointName", "endpoint"),
            ("ModelPackageGroupName", "model-package-group"),
        ):
            if p.get(name):
                value = p[name]  # SageMaker ARNs carry lower-cased names
                return [
                    value if value.startswith("arn:") else account.arn("sagemaker", f"{kind}/{value.lower()}")
                ]
    if service == "sagemaker-runtime" and p.get("EndpointName"):
        return [account.arn("sagemaker", f"endpoint/{p['EndpointName'].lower()}")]
    if service == "greengrassv2":
        if operation == "CreateComponentVersion":
            return [account.arn("greengrass", f"components:{_recipe_component(p)}")]
        if operation == "CreateDeployment" and p.get("targetArn"):
            return [p["targetArn"]]  # the thing or thing group deployed to
        if operation == "GetDeployment" and p.get("deploymentId"):
            return [account.arn("greengrass", f"deployments:{p['deploymentId']}")]
        for name in ("arn", "componentVersionArn"):
            if p.get(name):
                return [p[name]]
    if service == "mediaconvert" and operation == "CreateJob":
        queue = p.get("Queue") or "Default"
        queue = queue if queue.startswith("arn:") else account.arn("mediaconvert", f"queues/{queue}")
        return [account.arn("mediaconvert", "jobs/*"), queue]
    if service == "secretsmanager" and p.get("SecretId"):
        secret = p["SecretId"]
        return [
            secret if secret.startswith("arn:") else account.arn("secretsmanager", f"secret:{secret}-??????")
        ]
    if service == "ssm" and p.get("Name"):
        return [account.arn("ssm", f"parameter/{p['Name'].lstrip('/')}")]
    if service == "sns" and p.get("TopicArn"):
        return [p["TopicArn"]]
    if service == "sqs" and p.get("QueueUrl"):
        return [account.arn("sqs", p["QueueUrl"].rstrip("/").rsplit("/", 1)[-1])]
    if service == "events" and operation == "PutEvents":
        buses = {e.get("EventBusName") or "default" for e in p.get("Entries", [])}
        return [b if b.startswith("arn:") else account.arn("events", f"event-bus/{b}") for b in sorted(buses)]
    if service == "events" and p.get("Name"):
        return [account.arn("events", f"rule/{p['Name']}")]
    if service == "events" and p.get("Rule"):
        return [account.arn("events", f"rule/{p['Rule']}")]
    if service == "iot-data" and p.get("topic"):
        return [account.arn("iot", f"topic/{p['topic']}")]
    if service == "rekognition" and p.get("ProjectVersionArn"):
        return [p["ProjectVersionArn"]]
    return ["*"]  # actions without a resource type are authorized on "*"


def checks_for(service: str, operation: str, params: dict[str, Any], account: Account) -> list[Check]:
    """The (action, resource, context) checks IAM makes for one API call."""
    prefix = _PREFIX.get(service, service)
    if service == "dynamodb" and operation == "TransactWriteItems":
        checks = []
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                table = account.arn("dynamodb", f"table/{body.get('TableName', '*')}")
                checks.append(Check(f"dynamodb:{_DYNAMODB_TRANSACT.get(kind, kind)}", table))
        return checks
    if service == "dynamodb" and operation in ("BatchGetItem", "BatchWriteItem"):
        return [
            Check(f"dynamodb:{operation}", account.arn("dynamodb", f"table/{table}"))
            for table in params.get("RequestItems", {})
        ]
    action = _ACTION.get((service, operation), operation)
    if service == "s3" and operation == "GetObject" and params.get("VersionId"):
        action = "GetObjectVersion"
    context: dict[str, Any] = {}
    if service == "s3" and action == "ListBucket":
        context["s3:prefix"] = params.get("Prefix", "")
    checks = [
        Check(f"{prefix}:{action}", r, context) for r in _resources(service, operation, params, account)
    ]
    if service == "s3" and operation == "CopyObject":
        source = params.get("CopySource")
        if isinstance(source, dict):
            source = f"{source['Bucket']}/{source['Key']}"
        checks.append(Check("s3:GetObject", f"arn:{account.partition}:s3:::{str(source).lstrip('/')}"))
    passed = _PASSED_ROLE.get((service, operation))
    if passed and params.get(passed[0]):
        checks.append(Check("iam:PassRole", params[passed[0]], {"iam:PassedToService": passed[1]}))
    return checks


# ------------------------------------------------------------------ principals and the hook


@dataclass
class Principal:
    name: str  # who, in messages: the function or component
    role_arn: str
    policies: list[dict[str, Any]]

    def decide(self, check: Check) -> str:
        return decide(self.policies, check)


def role_policies(iam_client, role_name: str) -> list[dict[str, Any]]:
    """The role's inline and attached managed policies, as IAM (moto) holds them."""
    documents = []
    for name in iam_client.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(iam_client.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for attached in iam_client.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam_client.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam_client.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]
        documents.append(version["Document"])
    return [json.loads(d) if isinstance(d, str) else d for d in documents]


class Authorizer:
    """Checks the calls signed with a registered access key (local role credentials, which only the
    local stack knows: wherever such a call goes, the local endpoint or an engine's hook, it is ours).

    Calls signed with other keys (the operator's, e.g. the stack's own session) pass unchecked, as
    an administrator's would. `object_exists(bucket, key)` answers with the operator's rights, to
    turn a missing object into S3's 403 for a caller without s3:ListBucket.
    """

    def __init__(self, endpoint_url: str, account: Account, object_exists: Callable[[str, str], bool]):
        self.endpoint_url = endpoint_url.rstrip("/")
        # moto's own clients (the Step Functions interpreter) reach the same server as localhost
        self._endpoints = {self.endpoint_url, self.endpoint_url.replace("//127.0.0.1:", "//localhost:")}
        self.account = account
        self._object_exists = object_exists
        self.principals: dict[str, Principal] = {}  # access key id -> principal
        self.denials: list[str] = []
        self._lock = threading.Lock()

    def register(self, access_key_id: str, principal: Principal) -> None:
        self.principals[access_key_id] = principal

    def authorize(self, service: str, operation: str, params: dict[str, Any], principal: Principal) -> None:
        """Raises AccessDenied (with AWS's wording) unless every check of the call is allowed."""
        for check in checks_for(service, operation, params, self.account):
            verdict = principal.decide(check)
            if verdict != "Allow":
                kind = "an explicit deny" if verdict == "ExplicitDeny" else "no identity-based policy allows"
                message = (
                    f"User: {principal.role_arn} ({principal.name}) is not authorized to perform: "
                    f"{check.action} on resource: {check.resource} because {kind} the {check.action} action"
                )
                with self._lock:
                    self.denials.append(message)
                log.warning("local IAM: %s", message)
                raise AccessDenied(message)
        if service == "s3" and operation in ("GetObject", "HeadObject") and params.get("Key"):
            bucket, key = params["Bucket"], params["Key"]
            # a GetObject request carries no s3:prefix: a prefix-conditioned ListBucket does not count
            listing = Check("s3:ListBucket", f"arn:{self.account.partition}:s3:::{bucket}")
            if principal.decide(listing) != "Allow" and not self._object_exists(bucket, key):
                raise AccessDenied(
                    f"{principal.name} may not list {bucket}: a missing object is 403, not 404"
                )

    # botocore handlers (registered on every session: see installed())
    @staticmethod
    def remember_params(params, context=None, **_kwargs) -> None:
        if context is not None:
            context[PARAMS_KEY] = dict(params)

    def before_call(self, model, params, request_signer, context=None, **_kwargs):
        api_params = (context or {}).get(PARAMS_KEY, {})
        service = model.service_model.service_name
        url = params.get("url", "") if isinstance(params, dict) else ""
        local = any(url == e or url.startswith(e + "/") for e in self._endpoints)
        refused = service_limits.refusal(service, model.name, api_params) if local else None
        if refused:
            code, message = refused
            return _Http(400), {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        credentials = getattr(request_signer, "_credentials", None)
        access_key = credentials.get_frozen_credentials().access_key if credentials else None
        principal = self.principals.get(access_key)
        if principal is None:  # not a local role's credentials (those never reach AWS): not ours
            return None
        try:
            self.authorize(service, model.name, api_params, principal)
        except AccessDenied as denied:
            head = model.name.startswith("Head")  # S3 HEAD answers carry no body: botocore reports "403"
            code = "403" if head else "AccessDenied" if service == "s3" else "AccessDeniedException"
            error = {"Code": code, "Message": "Forbidden" if head else str(denied)}
            return _Http(403), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}
        return None


@dataclass
class _Http:
    status_code: int
    headers: dict = field(default_factory=dict)
    content: bytes = b""


_active: list[Authorizer] = []
_SPECS = [
    ("before-parameter-build", Authorizer.remember_params),
    ("before-call", lambda **kwargs: _dispatch(**kwargs)),
]


def _dispatch(**kwargs):
    for authorizer in list(_active):
        answer = authorizer.before_call(**kwargs)
        if answer is not None:
            return answer
    return None


class installed:  # noqa: N801 (a context manager used like a function)
    """Within the block, every botocore session (existing ones given, and every one created
    meanwhile through botocore's built-in handler list) runs the authorizer's checks."""

    def __init__(self, authorizer: Authorizer, sessions: Iterable[Any]):
        self.authorizer, self.sessions = authorizer, list(sessions)

    def __enter__(self) -> Authorizer:
        _active.append(self.authorizer)
        for spec in _SPECS:
            if spec not in botocore_handlers.BUILTIN_HANDLERS:
                botocore_handlers.BUILTIN_HANDLERS.append(spec)
        for session in self.sessions:
            events = session.events
            for event, handler in _SPECS:
                events.register_first(event, handler, unique_id=f"visionpipe-iam-{event}")
        return self.authorizer

    def __exit__(self, *exc_info) -> None:
        _active.remove(self.authorizer)
        if not _active:
            for spec in _SPECS:
                if spec in botocore_handlers.BUILTIN_HANDLERS:
                    botocore_handlers.BUILTIN_HANDLERS.remove(spec)
