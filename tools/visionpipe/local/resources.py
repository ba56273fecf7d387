"""Creates the transformed template's resources in moto, through ordinary boto3 calls to the endpoint.

CREATORS names a creator for every resource type local mode accepts, explicitly (no registration
by import side effect): a type missing here is a TemplateError naming it, never a silent skip.
STAND_INS are types with nothing to run locally (layers: the packages are installed here; bucket
policies, permissions, alarms, dashboards: moto neither enforces nor evaluates them); they get a
physical id and ARN so references to them resolve.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from visionpipe.local import functions, s3_delivery
from visionpipe.local.deployment import Created, Deployment, TemplateError, local_path


def create_bucket(d: Deployment, logical_id: str, props: dict) -> Created:
    name = props.get("BucketName") or d.generated_name(logical_id, 63, lower=True)
    s3 = d.client("s3")
    s3.create_bucket(Bucket=name)  # us-east-1 (PseudoParameters.region): no LocationConstraint
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if props.get("NotificationConfiguration"):
        configuration = s3_delivery.notification_configuration(props["NotificationConfiguration"])
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=configuration)
    return Created(logical_id, "AWS::S3::Bucket", name, {"Arn": f"arn:{d.pseudo.partition}:s3:::{name}"})


def create_table(d: Deployment, logical_id: str, props: dict) -> Created:
    name = props.get("TableName") or d.generated_name(logical_id, 255)
    dynamodb = d.client("dynamodb")
    request = {
        k: props[k]
        for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
        if k in props
    }
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True}
    arn = dynamodb.create_table(TableName=name, **request)["TableDescription"]["TableArn"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return Created(logical_id, "AWS::DynamoDB::Table", name, {"Arn": arn})


def create_queue(d: Deployment, logical_id: str, props: dict) -> Created:
    name = props.get("QueueName") or d.generated_name(logical_id, 80)
    attributes = {
        k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in props.items()
        if k != "QueueName"
    }
    url = d.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return Created(
        logical_id, "AWS::SQS::Queue", url, {"Arn": d.arn("sqs", name), "QueueName": name, "QueueUrl": url}
    )


def create_topic(d: Deployment, logical_id: str, props: dict) -> Created:
    name = props.get("TopicName") or d.generated_name(logical_id, 256)
    attributes = {k: props[k] for k in ("DisplayName", "KmsMasterKeyId") if k in props}
    arn = d.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return Created(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


def create_subscription(d: Deployment, logical_id: str, props: dict) -> Created:
    request = {k: props[k] for k in ("TopicArn", "Protocol", "Endpoint")}
    arn = d.client("sns").subscribe(**request, ReturnSubscriptionArn=True)["SubscriptionArn"]
    return Created(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})


def create_parameter(d: Deployment, logical_id: str, props: dict) -> Created:
    name = props.get("Name") or f"CFN-{d.generated_name(logical_id, 128, stack=False)}"
    request = {k: props[k] for k in ("Type", "Description") if k in props}
    d.client("ssm").put_parameter(Name=name, Value=str(props["Value"]), **request)
    return Created(
        logical_id, "AWS::SSM::Parameter", name, {"Type": props["Type"], "Value": str(props["Value"])}
    )


def _document(policy: dict) -> str:
    # IAM reads a missing Version as 2008-10-17, which moto's grammar check rejects; the two differ
    # only for policy variables, which these documents do not use.
    return json.dumps({"Version": "2012-10-17", **policy})


def create_role(d: Deployment, logical_id: str, props: dict) -> Created:
    """The role and its inline policies (moto checks the documents' grammar; it enforces none)."""
    iam, name = d.client("iam"), props.get("RoleName") or d.generated_name(logical_id, 64)
    role = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=_document(props["AssumeRolePolicyDocument"])
    )
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_document(policy["PolicyDocument"])
        )
    return Created(
        logical_id, "AWS::IAM::Role", name, {"Arn": role["Role"]["Arn"], "RoleId": role["Role"]["RoleId"]}
    )


def create_role_policy(d: Deployment, logical_id: str, props: dict) -> Created:
    for role in props.get("Roles", []):
        d.client("iam").put_role_policy(
            RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=_document(props["PolicyDocument"])
        )
    return Created(logical_id, "AWS::IAM::Policy", logical_id)


def create_managed_policy(d: Deployment, logical_id: str, props: dict) -> Created:
    name = props.get("ManagedPolicyName") or d.generated_name(logical_id, 128)
    arn = d.client("iam").create_policy(
        PolicyName=name,
        PolicyDocument=_document(props["PolicyDocument"]),
        Description=props.get("Description", ""),
    )["Policy"]["Arn"]
    return Created(logical_id, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})


def create_state_machine(d: Deployment, logical_id: str, props: dict) -> Created:
    """The definition file with its DefinitionSubstitutions (${Name} in its strings), as SAM deploys it."""
    text = local_path(d.template_dir, props["DefinitionS3Location"], "Bucket").read_text()
    for name, value in (props.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + name + "}", json.dumps(str(value))[1:-1])
    name = props.get("StateMachineName") or d.generated_name(logical_id, 80, stack=False)
    arn = d.client("stepfunctions").create_state_machine(
        name=name, definition=text, roleArn=props["RoleArn"], type=props.get("StateMachineType", "STANDARD")
    )["stateMachineArn"]
    return Created(logical_id, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name})


def create_rule(d: Deployment, logical_id: str, props: dict) -> Created:
    """The rule and its targets (moto records them; it does not deliver events to Lambda targets)."""
    name, events = props.get("Name") or d.generated_name(logical_id, 64), d.client("events")
    arn = events.put_rule(
        Name=name, EventPattern=json.dumps(props["EventPattern"]), State=props.get("State", "ENABLED")
    )
    events.put_targets(
        Rule=name, Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
    )
    return Created(logical_id, "AWS::Events::Rule", name, {"Arn": arn["RuleArn"]})


def create_model_package_group(d: Deployment, logical_id: str, props: dict) -> Created:
    arn = d.client("sagemaker").create_model_package_group(
        **{k: props[k] for k in ("ModelPackageGroupName", "ModelPackageGroupDescription") if k in props}
    )["ModelPackageGroupArn"]
    return Created(logical_id, "AWS::SageMaker::ModelPackageGroup", arn, {"ModelPackageGroupArn": arn})


def stand_in(d: Deployment, logical_id: str, props: dict, resource_type: str = "") -> Created:
    if resource_type == "AWS::Lambda::LayerVersion":
        arn = d.arn("lambda", f"layer:{props.get('LayerName', logical_id)}:1")
        return Created(logical_id, resource_type, arn, {"Arn": arn})
    name = d.generated_name(logical_id, 64)
    return Created(
        logical_id, resource_type, name, {"Arn": d.arn(resource_type.split("::")[1].lower(), name)}
    )


Creator = Callable[[Deployment, str, dict], Created]
CREATORS: dict[str, Creator] = {
    "AWS::S3::Bucket": create_bucket,
    "AWS::DynamoDB::Table": create_table,
    "AWS::SQS::Queue": create_queue,
    "AWS::SNS::Topic": create_topic,
    "AWS::SNS::Subscription": create_subscription,
    "AWS::SSM::Parameter": create_parameter,
    "AWS::IAM::Role": create_role,
    "AWS::IAM::Policy": create_role_policy,
    "AWS::IAM::ManagedPolicy": create_managed_policy,
    "AWS::Lambda::Function": functions.create_function,
    "AWS::Lambda::EventInvokeConfig": functions.create_event_invoke_config,
    "AWS::StepFunctions::StateMachine": create_state_machine,
    "AWS::Events::Rule": create_rule,
    "AWS::SageMaker::ModelPackageGroup": create_model_package_group,
}
STAND_INS = {
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::S3::BucketPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
}


def create_resource(d: Deployment, logical_id: str, declaration: dict[str, Any]) -> Created:
    resource_type, props = declaration["Type"], d.intrinsics.resolve(declaration.get("Properties") or {})
    if resource_type in STAND_INS:
        return d.record(stand_in(d, logical_id, props, resource_type))
    if resource_type not in CREATORS:
        raise TemplateError(
            f"{logical_id}: local mode has no creator for {resource_type} (add one to CREATORS)"
        )
    return d.record(CREATORS[resource_type](d, logical_id, props))
