"""Intrinsic functions, conditions, parameters and pseudo parameters, resolved like CloudFormation."""

import pytest

from visionpipe.local.intrinsics import (
    NO_VALUE,
    PseudoParameters,
    Resolver,
    TemplateError,
    UnresolvedReference,
    parameter_values,
    parse_parameter_overrides,
    references_in,
    samconfig_overrides,
)
from visionpipe.template import load_template

TEMPLATE = {
    "Parameters": {
        "Backend": {"Type": "String", "Default": "onnx", "AllowedValues": ["onnx", "sagemaker"]},
        "Prefix": {"Type": "String", "Default": "anomaly/current/", "AllowedPattern": "^[a-z/]*/$"},
        "Subnets": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
        "Count": {"Type": "Number", "Default": 5},
    },
    "Mappings": {"Sizes": {"us-east-1": {"Memory": 1024}}},
    "Conditions": {
        "UseSageMaker": {"Fn::Equals": [{"Ref": "Backend"}, "sagemaker"]},
        "UseOnnx": {"Fn::Not": [{"Condition": "UseSageMaker"}]},
        "Both": {"Fn::And": [{"Condition": "UseOnnx"}, {"Fn::Equals": ["x", "x"]}]},
        "Either": {"Fn::Or": [{"Condition": "UseSageMaker"}, {"Condition": "Both"}]},
    },
}
PSEUDO = PseudoParameters(stack_name="demo", stack_uuid="0b6f1e3c-1111-2222-3333-444455556666")
CREATED = {"Bucket": ("my-bucket", {"Arn": "arn:aws:s3:::my-bucket"})}


def ref_of(logical_id):
    if logical_id in CREATED:
        return CREATED[logical_id][0]
    raise UnresolvedReference(logical_id)


def attribute_of(logical_id, name):
    if logical_id in CREATED:
        return CREATED[logical_id][1][name]
    raise UnresolvedReference(logical_id, name)


@pytest.fixture
def resolver():
    return Resolver(TEMPLATE, parameter_values(TEMPLATE), PSEUDO, ref_of, attribute_of)


def test_pseudo_parameters(resolver):
    assert resolver.resolve({"Ref": "AWS::StackName"}) == "demo"
    assert resolver.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert resolver.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert resolver.resolve({"Ref": "AWS::Partition"}) == "aws"
    stack_id = resolver.resolve({"Ref": "AWS::StackId"})
    assert (
        stack_id
        == "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/0b6f1e3c-1111-2222-3333-444455556666"
    )


def test_bucket_suffix_from_stack_id_like_the_template(resolver):
    expression = {
        "Fn::Sub": [
            "visionpipe-images-${Suffix}",
            {"Suffix": {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}},
        ]
    }
    assert resolver.resolve(expression) == "visionpipe-images-0b6f1e3c-1111-2222-3333-444455556666"


def test_sub_string_form_refs_attributes_parameters_and_literals(resolver):
    text = "${Bucket.Arn}/x ${Bucket} ${AWS::Region} ${Prefix} ${!Literal}"
    assert (
        resolver.resolve({"Fn::Sub": text})
        == "arn:aws:s3:::my-bucket/x my-bucket us-east-1 anomaly/current/ ${Literal}"
    )


def test_get_att_both_forms_and_join(resolver):
    assert resolver.resolve({"Fn::GetAtt": "Bucket.Arn"}) == "arn:aws:s3:::my-bucket"
    assert resolver.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::my-bucket"
    assert resolver.resolve({"Fn::Join": [",", [{"Ref": "Bucket"}, "b"]]}) == "my-bucket,b"


def test_conditions_and_if(resolver):
    assert resolver.condition("UseSageMaker") is False
    assert resolver.condition("UseOnnx") is True
    assert resolver.condition("Both") is True
    assert resolver.condition("Either") is True
    assert resolver.resolve({"Fn::If": ["UseSageMaker", "a", "b"]}) == "b"


def test_no_value_drops_keys_and_items(resolver):
    value = {
        "A": {"Fn::If": ["UseSageMaker", "x", {"Ref": "AWS::NoValue"}]},
        "B": [1, {"Ref": "AWS::NoValue"}],
    }
    assert resolver.resolve(value) == {"B": [1]}
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_find_in_map_and_list_parameters(resolver):
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "AWS::Region"}, "Memory"]}) == 1024
    assert resolver.resolve({"Ref": "Subnets"}) == ["a", "b", "c"]
    assert resolver.resolve({"Fn::Select": [1, {"Ref": "Subnets"}]}) == "b"


def test_import_value_is_a_clear_error(resolver):
    with pytest.raises(TemplateError, match="ImportValue"):
        resolver.resolve({"Fn::ImportValue": "other-stack-export"})


def test_unresolved_reference_names_the_resource(resolver):
    with pytest.raises(UnresolvedReference, match="Missing.Arn"):
        resolver.resolve({"Fn::GetAtt": "Missing.Arn"})


def test_parameter_overrides_are_validated():
    assert parameter_values(TEMPLATE, {"Backend": "sagemaker"})["Backend"] == "sagemaker"
    with pytest.raises(TemplateError, match="not one of"):
        parameter_values(TEMPLATE, {"Backend": "lookout"})
    with pytest.raises(TemplateError, match="does not match"):
        parameter_values(TEMPLATE, {"Prefix": "no-slash"})
    with pytest.raises(TemplateError, match="does not declare"):
        parameter_values(TEMPLATE, {"Nope": "1"})


def test_parse_parameter_overrides_sam_syntax():
    assert parse_parameter_overrides('DetectorBackend="onnx" LogLevel=DEBUG Name="a b"') == {
        "DetectorBackend": "onnx",
        "LogLevel": "DEBUG",
        "Name": "a b",
    }


def test_samconfig_local_overrides(tmp_path):
    config = tmp_path / "samconfig.toml"
    config.write_text('version = 0.1\n[local.deploy.parameters]\nparameter_overrides = "A=\\"1\\" B=2"\n')
    assert samconfig_overrides(config) == {"A": "1", "B": "2"}
    assert samconfig_overrides(tmp_path / "missing.toml") == {}


def test_references_in_finds_sub_and_getatt_targets():
    expression = {
        "X": [{"Fn::Sub": "${A.Arn}/${B}/${AWS::Region}/${!C}"}, {"Fn::GetAtt": ["D", "Arn"]}, {"Ref": "E"}]
    }
    assert references_in(expression) == {"A", "B", "AWS::Region", "D", "E"}


def test_the_real_template_resolves_its_outputs_shape():
    template = load_template()
    values = parameter_values(template)
    resolver = Resolver(template, values, PSEUDO)
    for name in template.get("Conditions", {}):
        assert isinstance(resolver.condition(name), bool)
