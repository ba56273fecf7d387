"""Properties of template.yaml that every change must keep."""

import json
import re

import pytest

from visionpipe.template import load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
BUCKETS = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::S3::Bucket"}


def test_outputs_that_scripts_rely_on():
    assert {
        "VideoBucketName",
        "ImageBucketName",
        "ResultsBucketName",
        "ResultsTableName",
        "DetectionsBucketName",
    } <= set(TEMPLATE["Outputs"])


def test_every_function_is_python313_on_arm64():
    function_globals = TEMPLATE["Globals"]["Function"]
    for name, function in FUNCTIONS.items():
        props = function["Properties"]
        assert props.get("Runtime", function_globals.get("Runtime")) == "python3.13", name
        assert props.get("Architectures", function_globals.get("Architectures")) == ["arm64"], name


def test_the_buckets_share_one_hardened_block():
    """CloudFormation cannot share properties between resources: the five buckets repeat the block,
    and this keeps the copies identical (and their TLS-only policies, but for the bucket)."""
    hardening = ("BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls")
    blocks = {
        name: {key: bucket["Properties"].get(key) for key in hardening} for name, bucket in BUCKETS.items()
    }
    assert len(blocks) == 5 and all(block == blocks["ResultsBucket"] for block in blocks.values()), blocks
    policies = [
        json.dumps(r["Properties"]["PolicyDocument"]).replace(r["Properties"]["Bucket"]["Ref"], "BUCKET")
        for r in RESOURCES.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
    ]
    assert len(policies) == 5 and len(set(policies)) == 1


@pytest.mark.parametrize("bucket", sorted(BUCKETS))
def test_buckets_are_private_encrypted_and_deny_plain_http(bucket):
    props = BUCKETS[bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policies = [
        r
        for r in RESOURCES.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert policies, f"{bucket} has no bucket policy"
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def policy_statements():
    """Every IAM statement the template grants (function Policies and AWS::IAM resources). A
    template managed policy a function attaches (Policies: [!Ref X]) counts for that function too."""
    for name, function in FUNCTIONS.items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    yield name, statement
            elif isinstance(policy, dict) and RESOURCES.get(policy.get("Ref"), {}).get("Type") == (
                "AWS::IAM::ManagedPolicy"
            ):
                for statement in RESOURCES[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"]:
                    yield name, statement
    for name, resource in RESOURCES.items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            props = resource["Properties"]
            documents = (
                [props["PolicyDocument"]]
                if "PolicyDocument" in props
                else [p["PolicyDocument"] for p in props.get("Policies", [])]
            )
            for document in documents:
                for statement in document["Statement"]:
                    yield name, statement


def test_least_privilege():
    text = json.dumps(TEMPLATE)
    assert "FullAccess" not in text
    for name, statement in policy_statements():
        if statement.get("Effect", "Allow") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action != "*" and not action.endswith(":*"), f"{name} grants wildcard action {action}"
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        assert "*" not in resources or set(actions) <= TOLERATED_STAR_ACTIONS, (name, actions)


# Actions AWS offers no resource-level scoping for.
TOLERATED_STAR_ACTIONS = {
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "mediaconvert:CreateJob",
    "mediaconvert:GetJob",
    "sagemaker:ListModelPackages",
    "sagemaker:ListTags",  # AWS's documented createTrainingJob.sync policy grants it on "*"
    "greengrass:ListDeployments",
}


# ---- the S3 trigger graph has no cycle ------------------------------------------------------------


def bucket_of(reference) -> str | None:
    """Logical id of the bucket a policy/event reference names (Ref, or the stack-id !Sub pattern)."""
    if isinstance(reference, dict) and "Ref" in reference:
        return reference["Ref"]
    text = json.dumps(reference)
    for name, bucket in BUCKETS.items():
        bucket_name = bucket["Properties"].get("BucketName")
        if bucket_name and json.dumps(bucket_name)[:-1].split("${Suffix}")[0] in text:
            return name
        if f'"{name}.Arn"' in text or f"${{{name}.Arn}}" in text or f'"{name}"' in text:
            return name
    return None


def triggers():
    """(function, bucket, prefix, suffix) for every S3 event in the template."""
    for name, function in FUNCTIONS.items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "S3":
                continue
            rules = {
                r["Name"]: r["Value"]
                for r in event["Properties"].get("Filter", {}).get("S3Key", {}).get("Rules", [])
            }
            yield name, event["Properties"]["Bucket"]["Ref"], rules.get("prefix", ""), rules.get("suffix", "")


def writes():
    """(function or role, bucket, key pattern) for every s3:PutObject the template grants."""
    for name, statement in policy_statements():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(a in ("s3:PutObject", "s3:CopyObject") for a in actions):
            continue
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            bucket = bucket_of(resource)
            match = re.search(r"/([^\"]*)\*", json.dumps(resource))
            yield name, bucket, (match.group(1) if match else "")
    for name, function in FUNCTIONS.items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, dict):
                for template_name in ("S3WritePolicy", "S3CrudPolicy", "S3FullAccessPolicy"):
                    if template_name in policy:
                        yield name, bucket_of(policy[template_name]["BucketName"]), ""


def overlaps(write_prefix: str, trigger_prefix: str) -> bool:
    return write_prefix.startswith(trigger_prefix) or trigger_prefix.startswith(write_prefix)


def test_no_s3_write_can_trigger_its_writer():
    """Follow function -> bucket/prefix it may write -> functions triggered there, and find no cycle."""
    edges = {name: set() for name in FUNCTIONS}
    trigger_list = list(triggers())
    for writer, bucket, prefix in writes():
        for triggered, trigger_bucket, trigger_prefix, _ in trigger_list:
            if writer in edges and bucket == trigger_bucket and overlaps(prefix, trigger_prefix):
                edges[writer].add(triggered)

    def reachable(start):
        seen, stack = set(), [start]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    for function in FUNCTIONS:
        assert function not in reachable(function), f"{function} can trigger itself: {edges}"


def test_the_cycle_check_can_fail():
    assert overlaps("video_inputs/", "video_inputs/") and overlaps("", "image_inputs/")
    assert not overlaps("results/", "image_inputs/")
    assert ("DetectAnomalyFunction", "ImageBucket", "image_inputs/", "") in set(triggers())
    assert ("DetectAnomalyFunction", "ResultsBucket", "results/") in set(writes())


def test_dashboard_is_valid_json_with_the_anomaly_widgets():
    body = RESOURCES["AnomalyDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(
        body.replace("${AWS::Region}", "us-east-1").replace("${FailedEventsQueue.QueueName}", "q")
    )
    metrics = [m for w in dashboard["widgets"] for m in w["properties"]["metrics"]]
    names = {m[1] for m in metrics if isinstance(m[0], str)}
    assert {
        "ImagesProcessed",
        "Anomalies",
        "Rejected",
        "DetectLatency",
        "FramesCaptured",
        "TweetsPosted",
    } <= names
    stats = {m[-1].get("stat") for m in metrics if isinstance(m[-1], dict) and m[1:2] == ["DetectLatency"]}
    assert {"p50", "p99"} <= stats
    assert any(
        "expression" in m[0] and "anomalies / processed" in m[0]["expression"]
        for m in metrics
        if isinstance(m[0], dict)
    )
