"""template.yaml as CloudFormation deploys it: parameters, the SAM transform, intrinsics, order."""

from graphlib import CycleError
from importlib.metadata import version

import pytest

from visionpipe.local.deployment import (
    LOCAL_ARTIFACTS,
    Intrinsics,
    PseudoParameters,
    TemplateError,
    UnresolvedReference,
    creation_order,
    parameter_values,
    parse_parameter_overrides,
    references_in,
    sam_transform,
    samconfig,
)
from visionpipe.template import REPO_ROOT, load_template

PSEUDO = PseudoParameters(stack_name="demo", stack_uuid="0b6f1e3c-1111-2222-3333-444455556666")
TEMPLATE = {
    "Parameters": {
        "Backend": {"Type": "String", "Default": "onnx", "AllowedValues": ["onnx", "sagemaker"]},
        "Prefix": {"Type": "String", "Default": "anomaly/current/", "AllowedPattern": "^[a-z/]*/$"},
        "Empty": {"Type": "String", "Default": "x"},
    },
    "Conditions": {
        "UseSageMaker": {"Fn::Equals": [{"Ref": "Backend"}, "sagemaker"]},
        "UseOnnx": {"Fn::Not": [{"Condition": "UseSageMaker"}]},
    },
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
}


@pytest.fixture
def intrinsics():
    resolver = Intrinsics(TEMPLATE, parameter_values(TEMPLATE, {"Empty": ""}), PSEUDO)
    resolver.created("Bucket", "my-bucket", {"Arn": "arn:aws:s3:::my-bucket"})
    return resolver


def test_aws_sam_cli_is_the_pinned_version():
    """deployment.py relies on samcli.lib.intrinsic_resolver (internal API): upgrade deliberately."""
    pinned = next(
        line.split("==")[1].strip()
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("aws-sam-cli==")
    )
    assert version("aws-sam-cli") == pinned


def test_pseudo_parameters_refs_and_the_stack_id_suffix_the_template_uses(intrinsics):
    assert intrinsics.resolve({"Ref": "AWS::StackName"}) == "demo"
    assert intrinsics.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert intrinsics.resolve({"Ref": "AWS::StackId"}).endswith(
        ":stack/demo/0b6f1e3c-1111-2222-3333-444455556666"
    )
    suffix = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
    expression = {"Fn::Sub": ["visionpipe-images-${Suffix}", {"Suffix": suffix}]}
    assert intrinsics.resolve(expression) == "visionpipe-images-0b6f1e3c-1111-2222-3333-444455556666"


def test_sub_string_form_getatt_ref_parameters_and_literals(intrinsics):
    text = "${Bucket.Arn}/x ${Bucket} ${AWS::Region} ${Prefix} ${!Literal}"
    expected = "arn:aws:s3:::my-bucket/x my-bucket us-east-1 anomaly/current/ ${Literal}"
    assert intrinsics.resolve({"Fn::Sub": text}) == expected
    # a variable's value is used as is (samcli's own Fn::Sub would resolve it again as a name)
    assert intrinsics.resolve({"Fn::Sub": ["${A}", {"A": "some.value"}]}) == "some.value"
    assert intrinsics.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::my-bucket"
    assert intrinsics.resolve({"Fn::Join": [",", [{"Ref": "Bucket"}, "b"]]}) == "my-bucket,b"


def test_an_empty_override_is_empty_not_the_default(intrinsics):
    assert intrinsics.resolve({"Ref": "Empty"}) == ""


def test_conditions_and_if_take_only_the_chosen_branch(intrinsics):
    assert (intrinsics.condition("UseSageMaker"), intrinsics.condition("UseOnnx")) == (False, True)
    assert intrinsics.resolve({"Fn::If": ["UseSageMaker", {"Ref": "NotCreated"}, "b"]}) == "b"
    assert not intrinsics.is_active({"Condition": "UseSageMaker"})


def test_unresolved_references_raise(intrinsics):
    with pytest.raises(UnresolvedReference, match="Missing"):
        intrinsics.resolve({"Ref": "Missing"})
    with pytest.raises(UnresolvedReference, match="Missing"):
        intrinsics.resolve({"Fn::Sub": "${Missing}"})
    with pytest.raises(Exception, match=r"Bucket\.Nope"):
        intrinsics.resolve({"Fn::GetAtt": ["Bucket", "Nope"]})


def test_parameter_overrides_are_validated_like_cloudformation():
    assert parameter_values(TEMPLATE, {"Backend": "sagemaker"})["Backend"] == "sagemaker"
    with pytest.raises(TemplateError, match="not one of"):
        parameter_values(TEMPLATE, {"Backend": "lookout"})
    with pytest.raises(TemplateError, match="does not match"):
        parameter_values(TEMPLATE, {"Prefix": "no-slash"})
    with pytest.raises(TemplateError, match="does not declare"):
        parameter_values(TEMPLATE, {"Nope": "1"})


def test_samconfig_local_section_and_sam_override_syntax(tmp_path):
    assert parse_parameter_overrides('A="onnx" B=DEBUG C="a b"') == {"A": "onnx", "B": "DEBUG", "C": "a b"}
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[local.global.parameters]\nstack_name = "s"\n'
        '[local.deploy.parameters]\nparameter_overrides = "A=\\"1\\" B=2"\n'
    )
    assert samconfig(config) == ({"A": "1", "B": "2"}, "s")
    assert samconfig(tmp_path / "missing.toml") == ({}, None)


def test_the_sam_transform_makes_implicit_resources_under_their_real_logical_ids():
    template = load_template()
    transformed = sam_transform(template, parameter_values(template), "us-east-1")
    resources = transformed["Resources"]
    assert resources["DetectAnomalyFunction"]["Type"] == "AWS::Lambda::Function"
    assert resources["DetectAnomalyFunctionRole"]["Type"] == "AWS::IAM::Role"
    assert resources["DetectAnomalyFunctionEventInvokeConfig"]["Type"] == "AWS::Lambda::EventInvokeConfig"
    assert resources["DetectAnomalyFunctionImageUploadsPermission"]["Type"] == "AWS::Lambda::Permission"
    assert resources["CaptureJobStateFunctionJobStateChanges"]["Type"] == "AWS::Events::Rule"
    function = resources["DetectAnomalyFunction"]["Properties"]
    assert function["Code"] == {"S3Bucket": LOCAL_ARTIFACTS, "S3Key": "functions/detect_anomaly/"}
    variables = function["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "visionpipe"  # Globals merged
    notifications = resources["ImageBucket"]["Properties"]["NotificationConfiguration"][
        "LambdaConfigurations"
    ]
    assert {n["Filter"]["S3Key"]["Rules"][0]["Value"] for n in notifications} == {
        "image_inputs/",
        "video_inputs/",
    }


def test_creation_order_follows_references_and_rejects_cycles():
    resources = {
        "Machine": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${Topic}/${Fn.Arn}"}}},
        "Fn": {"Type": "T", "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}}},
        "FnRole": {"Type": "T"},
        "Topic": {"Type": "T", "DependsOn": "FnRole"},
    }
    order = creation_order(resources)
    assert order.index("FnRole") < order.index("Fn") < order.index("Machine")
    assert order.index("FnRole") < order.index("Topic") < order.index("Machine")
    with pytest.raises(CycleError):
        creation_order({"A": {"Properties": {"X": {"Ref": "B"}}}, "B": {"Properties": {"X": {"Ref": "A"}}}})


def test_references_in_sub_getatt_and_ref():
    expression = {
        "X": [{"Fn::Sub": "${A.Arn}/${B}/${AWS::Region}/${!C}"}, {"Fn::GetAtt": "D.Arn"}, {"Ref": "E"}]
    }
    assert references_in(expression) == {"A", "B", "AWS::Region", "D", "E"}
