"""template.yaml resolved as CloudFormation would (samcli's intrinsic resolver, a fixed stack id):
the names derived from the stack id are the buckets' own, and every S3 ARN names a real bucket."""

import copy
import json

import pytest
from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable

from visionpipe.template import load_template

STACK_UUID = "51af3dc0-da77-11e4-872e-1234567db123"
REGION, ACCOUNT = "eu-west-1", "123456789012"
PSEUDO = {
    "AWS::StackId": f"arn:aws:cloudformation:eu-west-1:123456789012:stack/visionpipe/{STACK_UUID}",
    "AWS::StackName": "visionpipe",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
}
EDGE_PREFIXES = [
    "images/*",
    "json/*",
    "latest/latest.json",
    "frames_resized/*",
    "raw_images/*",
    "training_annotation/*",
]


def _resolver(template, translator):
    symbols = IntrinsicsSymbolTable(template=template, logical_id_translator=translator)
    return IntrinsicResolver(template=template, symbol_resolver=symbols)


@pytest.fixture(scope="module")
def resolved():
    """(resources, bucket name by logical id). Buckets resolve as in CloudFormation: Ref is the name,
    Arn is arn:<partition>:s3:::<name>; a bucket without BucketName gets a stand-in name."""
    template = copy.deepcopy(load_template())
    resources = template["Resources"]
    buckets = {n: r for n, r in resources.items() if r["Type"] == "AWS::S3::Bucket"}
    names_only = _resolver(template, dict(PSEUDO))
    names = {
        n: names_only.intrinsic_property_resolver(copy.deepcopy(b["Properties"]["BucketName"]), False)
        if "BucketName" in b["Properties"]
        else f"stack-generated-{n.lower()}"
        for n, b in buckets.items()
    }
    translator = dict(PSEUDO) | {n: {"Ref": name, "Arn": f"arn:aws:s3:::{name}"} for n, name in names.items()}
    resolver = _resolver(template, translator)
    conditions = {  # with the parameters' defaults
        name: resolver.intrinsic_property_resolver(copy.deepcopy(expression), False)
        for name, expression in template["Conditions"].items()
    }
    active = {n: r for n, r in resources.items() if conditions.get(r.get("Condition"), True)}
    assert conditions["UseMediaConvert"] and not conditions["UseRekognition"]
    return {
        n: resolver.resolve_attribute(copy.deepcopy(r), ignore_errors=True) for n, r in active.items()
    }, names


def test_notified_buckets_are_named_from_the_stack_id(resolved):
    _, names = resolved
    for bucket, kind in (
        ("VideoBucket", "videos"),
        ("ImageBucket", "images"),
        ("DetectionsBucket", "detections"),
    ):
        assert names[bucket] == f"visionpipe-{kind}-{STACK_UUID}"


def test_every_s3_arn_and_bucket_setting_names_a_bucket_of_the_stack(resolved):
    """A derived name with a typo (visionpipe-detection-...) would point at someone else's bucket."""
    resources, names = resolved
    text = json.dumps(resources)
    arns = {part.split('"')[0] for part in text.split('"arn:aws:s3:::')[1:]}
    assert arns, "no S3 ARN found: the check would pass vacuously"
    # GDK's artifact bucket (<gdk-config bucket>-<region>-<account>) is the one bucket outside the stack
    gdk_bucket = f"visionpipe-greengrass-artifacts-{REGION}-{ACCOUNT}"
    for arn in arns:
        assert arn.split("/")[0] in [*names.values(), gdk_bucket], arn
    variables = {
        key: value
        for resource in resources.values()
        for key, value in resource.get("Properties", {}).get("Environment", {}).get("Variables", {}).items()
        if key.endswith("_BUCKET") and isinstance(value, str)
    }
    assert {"VIDEO_BUCKET", "IMAGE_BUCKET", "DETECTIONS_BUCKET"} <= set(variables)
    for key, value in variables.items():
        assert value in names.values(), (key, value)


def test_the_edge_device_policy_puts_detections_and_gets_component_artifacts(resolved):
    resources, names = resolved
    put, get = resources["EdgeDeviceUploadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert put["Action"] == ["s3:PutObject"]
    assert put["Resource"] == [f"arn:aws:s3:::{names['DetectionsBucket']}/{p}" for p in EDGE_PREFIXES]
    # the nucleus downloads the components' artifacts with the token exchange role
    assert get["Action"] == ["s3:GetObject"]
    assert get["Resource"] == [
        f"arn:aws:s3:::visionpipe-greengrass-artifacts-{REGION}-{ACCOUNT}/*",
        f"arn:aws:s3:::{names['ModelBucket']}/retraining/output/*",
    ]


def test_shared_statements_reach_every_function_that_attaches_them():
    resources = load_template()["Resources"]
    attached = {
        name: {p["Ref"] for p in r["Properties"].get("Policies", []) if isinstance(p, dict) and "Ref" in p}
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert {n for n, refs in attached.items() if "CaptureOutcomesPolicy" in refs} == {
        "FrameCaptureFunction",
        "CaptureJobStateFunction",
    }
    for name, refs in attached.items():
        for ref in refs:
            assert resources[ref]["Type"] == "AWS::IAM::ManagedPolicy", (name, ref)
