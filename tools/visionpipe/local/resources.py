"""Creates the template's resources in moto, through ordinary boto3 calls against the local endpoint.

One creator per resource type moto has; types with nothing to emulate locally (IAM, CloudWatch,
layers, policies, permissions) are skipped with a debug log but still get a physical id and ARN
so references to them resolve. Unknown types get a clear warning.
"""

from __future__ import annotations

import json
import logging
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

from visionpipe.local.intrinsics import (
    PseudoParameters,
    Resolver,
    TemplateError,
    UnresolvedReference,
    references_in,
)

log = logging.getLogger("visionpipe.local")


@dataclass
class CreatedResource:
    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    local: Any = None  # the local stand-in (e.g. a LocalFunction), not a template attribute


@dataclass
class Deployment:
    """Everything a creator needs: the template, the resolver, clients on the local endpoint."""

    template: dict[str, Any]
    template_dir: Path
    pseudo: PseudoParameters
    session: boto3.Session
    endpoint_url: str
    created: dict[str, CreatedResource] = field(default_factory=dict)
    resolver: Resolver | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    # References resolve against what has been created so far.
    def ref_of(self, logical_id: str) -> Any:
        if logical_id in self.created:
            return self.created[logical_id].ref
        raise UnresolvedReference(logical_id)

    def attribute_of(self, logical_id: str, attribute: str) -> Any:
        resource = self.created.get(logical_id)
        if resource is None:
            raise UnresolvedReference(logical_id, attribute)
        if attribute not in resource.attributes and resource.skipped:
            # Not emulated: a stand-in value (its ARN or name) keeps the wiring resolvable.
            return resource.attributes["Arn"] if attribute.endswith("Arn") else resource.attributes["Name"]
        if attribute not in resource.attributes:
            raise TemplateError(f"{logical_id} ({resource.type}) has no attribute {attribute} locally")
        return resource.attributes[attribute]

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        p = self.pseudo
        region_part, account_part = (p.region if region else ""), (p.account_id if account else "")
        return f"arn:{p.partition}:{service}:{region_part}:{account_part}:{resource}"

    def generated_name(
        self, logical_id: str, max_length: int = 64, lower: bool = False, stack: bool = True
    ) -> str:
        """CloudFormation-style physical name: <stack>-<LogicalId>-<RANDOM>."""
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
        head = f"{self.pseudo.stack_name}-{logical_id}" if stack else logical_id
        name = f"{head[: max_length - len(suffix) - 1]}-{suffix}"
        return name.lower() if lower else name


Creator = Callable[[Deployment, str, dict[str, Any]], CreatedResource]
CREATORS: dict[str, Creator] = {}


def creates(*types: str):
    def register(creator: Creator) -> Creator:
        for resource_type in types:
            CREATORS[resource_type] = creator
        return creator

    return register


def _props(deployment: Deployment, declaration: dict[str, Any]) -> dict[str, Any]:
    return deployment.resolver.resolve(declaration.get("Properties", {}) or {})


# ------------------------------------------------------------------ S3


@creates("AWS::S3::Bucket")
def create_bucket(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    name = props.get("BucketName") or d.generated_name(logical_id, 63, lower=True)
    s3 = d.client("s3")
    if d.pseudo.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": d.pseudo.region})
    versioning = props.get("VersioningConfiguration", {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                k: bool(v) for k, v in props["PublicAccessBlockConfiguration"].items()
            },
        )
    if props.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": props["Tags"]})
    p = d.pseudo
    return CreatedResource(
        logical_id,
        "AWS::S3::Bucket",
        name,
        {
            "Arn": f"arn:{p.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{p.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{p.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{p.region}.amazonaws.com",
            "Versioned": versioning == "Enabled",
            "NotificationConfiguration": props.get("NotificationConfiguration", {}),
        },
    )


# ------------------------------------------------------------------ DynamoDB


def _table_request(props: dict[str, Any]) -> dict[str, Any]:
    billing = props.get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(kind):
            indexes = []
            for index in props[kind]:
                index = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")} | (
                    {
                        "ProvisionedThroughput": {
                            k: int(v) for k, v in index.get("ProvisionedThroughput", throughput).items()
                        }
                    }
                    if billing == "PROVISIONED" and kind == "GlobalSecondaryIndexes"
                    else {}
                )
                indexes.append(index)
            request[kind] = indexes
    if props.get("StreamSpecification", {}).get("StreamViewType"):
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": props["StreamSpecification"]["StreamViewType"],
        }
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True}
    return request


@creates("AWS::DynamoDB::Table")
def create_table(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    name = props.get("TableName") or d.generated_name(logical_id, 255)
    dynamodb = d.client("dynamodb")
    description = dynamodb.create_table(TableName=name, **_table_request(props))["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    attributes = {"Arn": description["TableArn"]}
    if description.get("LatestStreamArn"):
        attributes["StreamArn"] = description["LatestStreamArn"]
    return CreatedResource(logical_id, "AWS::DynamoDB::Table", name, attributes)


@creates("AWS::Serverless::SimpleTable")
def create_simple_table(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    key = props.get("PrimaryKey", {"Name": "id", "Type": "String"})
    kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    table = {
        "TableName": props.get("TableName"),
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST" if not props.get("ProvisionedThroughput") else "PROVISIONED",
        "ProvisionedThroughput": props.get("ProvisionedThroughput"),
    }
    created = create_table(d, logical_id, {"Properties": {k: v for k, v in table.items() if v}})
    created.type = "AWS::Serverless::SimpleTable"
    return created


# ------------------------------------------------------------------ SQS / SNS


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


@creates("AWS::SQS::Queue")
def create_queue(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = props.get("QueueName") or d.generated_name(logical_id, 75 if fifo else 80) + (
        ".fifo" if fifo else ""
    )
    attributes = {k: _text(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
    for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
        if policy in props:
            attributes[policy] = (
                json.dumps(props[policy]) if isinstance(props[policy], dict) else props[policy]
            )
    url = d.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = d.arn("sqs", name)
    return CreatedResource(
        logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
    )


@creates("AWS::SNS::Topic")
def create_topic(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    fifo = str(props.get("FifoTopic", "false")).lower() == "true"
    name = props.get("TopicName") or d.generated_name(logical_id, 251 if fifo else 256) + (
        ".fifo" if fifo else ""
    )
    attributes = {"FifoTopic": "true"} if fifo else {}
    if props.get("DisplayName"):
        attributes["DisplayName"] = props["DisplayName"]
    sns = d.client("sns")
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription", []) or []:
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return CreatedResource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


@creates("AWS::SNS::Subscription")
def create_subscription(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    request = {
        "TopicArn": props["TopicArn"],
        "Protocol": props["Protocol"],
        "Endpoint": props.get("Endpoint", ""),
    }
    attributes = {
        k: (json.dumps(v) if isinstance(v, dict) else _text(v))
        for k, v in props.items()
        if k in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
    }
    if attributes:
        request["Attributes"] = attributes
    arn = d.client("sns").subscribe(**request, ReturnSubscriptionArn=True)["SubscriptionArn"]
    return CreatedResource(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})


# ------------------------------------------------------------------ SSM / Secrets Manager


@creates("AWS::SSM::Parameter")
def create_parameter(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    name = props.get("Name") or f"CFN-{d.generated_name(logical_id, 128, stack=False)}"
    request = {"Name": name, "Type": props.get("Type", "String"), "Value": _text(props["Value"])}
    for optional in ("Description", "AllowedPattern", "Tier", "DataType"):
        if props.get(optional):
            request[optional] = props[optional]
    d.client("ssm").put_parameter(**request)
    return CreatedResource(
        logical_id, "AWS::SSM::Parameter", name, {"Type": request["Type"], "Value": request["Value"]}
    )


@creates("AWS::SecretsManager::Secret")
def create_secret(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    name = props.get("Name") or d.generated_name(logical_id, 256, stack=False)
    secrets = d.client("secretsmanager")
    if "SecretString" in props:
        value = _text(props["SecretString"])
    elif "GenerateSecretString" in props:
        spec = dict(props["GenerateSecretString"])
        template_text, key = spec.pop("SecretStringTemplate", None), spec.pop("GenerateStringKey", None)
        options = {k: (int(v) if k == "PasswordLength" else v) for k, v in spec.items()}
        password = secrets.get_random_password(**options)["RandomPassword"]
        value = (
            json.dumps({**json.loads(template_text), key: password}) if template_text and key else password
        )
    else:
        value = None
    request = {"Name": name}
    if value is not None:
        request["SecretString"] = value
    if props.get("Description"):
        request["Description"] = props["Description"]
    arn = secrets.create_secret(**request)["ARN"]
    return CreatedResource(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})


# ------------------------------------------------------------------ Step Functions / EventBridge


def ensure_role(d: Deployment, role_name: str, service: str) -> str:
    """A stand-in for an execution role SAM would generate (moto's Lambda wants one that exists)."""
    iam = d.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        return iam.create_role(RoleName=role_name[:64], AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=role_name[:64])["Role"]["Arn"]


def implicit_role(d: Deployment, owner_id: str, service: str) -> str:
    """Register SAM's implicit <Owner>Role so !Ref/!GetAtt on it resolve; returns its ARN."""
    role_id = f"{owner_id}Role"
    name = d.generated_name(role_id, 64)
    arn = ensure_role(d, name, service)
    d.created[role_id] = CreatedResource(
        role_id, "AWS::IAM::Role", name, {"Arn": arn, "RoleId": name}, skipped=True
    )
    return arn


def substitute_definition(definition: Any, substitutions: dict[str, Any]) -> Any:
    """SAM's DefinitionSubstitutions: ${Name} placeholders in the definition's strings."""
    text = json.dumps(definition)
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", json.dumps(_text(value))[1:-1])
    return json.loads(text)


def load_definition(d: Deployment, props: dict[str, Any], uri_key: str) -> Any:
    if "Definition" in props:
        return props["Definition"]
    if "DefinitionString" in props:
        return json.loads(props["DefinitionString"])
    uri = props.get(uri_key)
    if isinstance(uri, str):
        path = d.template_dir / uri
        return (
            yaml.safe_load(path.read_text())
            if path.suffix in (".yaml", ".yml")
            else json.loads(path.read_text())
        )
    raise TemplateError(
        f"state machine definition from {uri!r}: only local files or inline definitions work locally"
    )


@creates("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
def create_state_machine(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    serverless = declaration["Type"] == "AWS::Serverless::StateMachine"
    definition = load_definition(d, props, "DefinitionUri" if serverless else "DefinitionS3Location")
    definition = substitute_definition(definition, props.get("DefinitionSubstitutions", {}) or {})
    name = props.get("Name") or props.get("StateMachineName") or d.generated_name(logical_id, 80, stack=False)
    role = props.get("Role") or props.get("RoleArn") or implicit_role(d, logical_id, "states.amazonaws.com")
    request = {"name": name, "definition": json.dumps(definition), "roleArn": role}
    kind = props.get("Type") or props.get("StateMachineType")
    if kind:
        request["type"] = kind
    arn = d.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
    if serverless and props.get("Events"):
        log.info("%s: state machine Events are not wired locally (start executions yourself)", logical_id)
    return CreatedResource(logical_id, declaration["Type"], arn, {"Arn": arn, "Name": name})


@creates("AWS::Events::Rule")
def create_rule(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    name = props.get("Name") or d.generated_name(logical_id, 64)
    events = d.client("events")
    request = {"Name": name, "State": props.get("State", "ENABLED")}
    if props.get("EventPattern"):
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if props.get("ScheduleExpression"):
        request["ScheduleExpression"] = props["ScheduleExpression"]
    if props.get("EventBusName"):
        request["EventBusName"] = props["EventBusName"]
    arn = events.put_rule(**request)["RuleArn"]
    targets = []
    for target in props.get("Targets", []) or []:
        entry = {k: v for k, v in target.items() if k in ("Id", "Arn", "Input", "InputPath", "RoleArn")}
        if isinstance(entry.get("Input"), dict):
            entry["Input"] = json.dumps(entry["Input"])
        targets.append(entry)
    if targets:
        events.put_targets(Rule=name, EventBusName=props.get("EventBusName", "default"), Targets=targets)
    return CreatedResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn})


@creates("AWS::SageMaker::ModelPackageGroup")
def create_model_package_group(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    props = _props(d, declaration)
    name = props.get("ModelPackageGroupName") or d.generated_name(logical_id, 63)
    request = {"ModelPackageGroupName": name}
    if props.get("ModelPackageGroupDescription"):
        request["ModelPackageGroupDescription"] = props["ModelPackageGroupDescription"]
    arn = d.client("sagemaker").create_model_package_group(**request)["ModelPackageGroupArn"]
    return CreatedResource(logical_id, declaration["Type"], arn, {"ModelPackageGroupArn": arn})


# ------------------------------------------------------------------ nothing to emulate locally

SKIPPED_PREFIXES = ("AWS::IAM::", "AWS::CloudWatch::", "AWS::Logs::", "AWS::KMS::", "AWS::XRay::")
SKIPPED_TYPES = {
    "AWS::Serverless::LayerVersion": "lambda",
    "AWS::Lambda::LayerVersion": "lambda",
    "AWS::Lambda::Permission": "lambda",
    "AWS::Lambda::EventInvokeConfig": "lambda",
    "AWS::S3::BucketPolicy": "s3",
    "AWS::SQS::QueuePolicy": "sqs",
    "AWS::SNS::TopicPolicy": "sns",
    "AWS::Events::EventBusPolicy": "events",
}


def skip(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    """A stand-in with a physical id and ARN, so references to it still resolve."""
    resource_type = declaration["Type"]
    name = d.generated_name(logical_id, 64)
    service = resource_type.split("::")[1].lower()
    if resource_type.startswith("AWS::IAM::"):
        kind = resource_type.split("::")[2].lower()
        arn = d.arn("iam", f"{kind}/{name}", region=False)
    elif resource_type in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
        arn = d.arn("lambda", f"layer:{name}:1")
        name = arn
    else:
        arn = d.arn(SKIPPED_TYPES.get(resource_type, service), f"{logical_id.lower()}/{name}")
    known = resource_type in SKIPPED_TYPES or resource_type.startswith(SKIPPED_PREFIXES)
    if known:
        log.debug("%s (%s): nothing to emulate locally, skipped", logical_id, resource_type)
    else:
        log.warning(
            "%s: resource type %s is not emulated by local mode; references to it get a placeholder (%s)",
            logical_id,
            resource_type,
            name,
        )
    return CreatedResource(logical_id, resource_type, name, {"Arn": arn, "Name": name}, skipped=True)


# ------------------------------------------------------------------ ordering


def creation_order(template: dict[str, Any], active: Callable[[dict], bool]) -> list[str]:
    """Logical ids in dependency order (Ref, GetAtt, Sub, DependsOn); raises on a cycle."""
    resources = {k: v for k, v in (template.get("Resources") or {}).items() if active(v)}
    dependencies: dict[str, set[str]] = {}
    for logical_id, declaration in resources.items():
        depends = declaration.get("DependsOn", [])
        depends = {depends} if isinstance(depends, str) else set(depends)
        found = references_in(declaration.get("Properties", {})) | depends
        # SAM's implicit <Owner>Role etc. belong to their owner.
        dependencies[logical_id] = {_owner(ref, resources) for ref in found} & set(resources) - {logical_id}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise TemplateError(f"circular dependency: {' -> '.join((*path, node))}")
        state[node] = 1
        for dependency in sorted(dependencies[node]):
            visit(dependency, (*path, node))
        state[node] = 2
        order.append(node)

    for logical_id in resources:
        visit(logical_id, ())
    return order


def _owner(reference: str, resources: dict[str, Any]) -> str:
    if reference in resources:
        return reference
    for owner in sorted(resources, key=len, reverse=True):
        if reference.startswith(owner):
            return owner
    return reference


def create_resource(d: Deployment, logical_id: str, declaration: dict[str, Any]) -> CreatedResource:
    creator = CREATORS.get(declaration["Type"])
    created = creator(d, logical_id, declaration) if creator else skip(d, logical_id, declaration)
    d.created[logical_id] = created
    return created


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
