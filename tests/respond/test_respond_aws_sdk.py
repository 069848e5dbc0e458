"""`arn:aws:states:::aws-sdk:SERVICE:ACTION` against moto in server mode: real boto3 calls, parameters and
results as Step Functions spells them, errors named as Step Functions names them, throttling (a local
server answering 400 Throttling) and an unreachable endpoint."""

from __future__ import annotations

import json

import pytest
from botocore.model import ShapeResolver

from respond_support import (
    AMI,
    answering,
    context,
    ec2_throttling_body,
    free_port,
    reset,
    reynard,
)
from reynard.respond.aws_sdk import boto_service_name, parse_resource, pascal, sdk_error_name, to_boto
from reynard.respond.errors import DefinitionError, StatesError

SDK = "arn:aws:states:::aws-sdk:"


@pytest.fixture
def tasks(aws: str):
    reset(aws)
    return reynard(aws)


def launch(tasks) -> str:
    result = tasks.run(SDK + "ec2:runInstances", {"ImageId": AMI, "MinCount": 1, "MaxCount": 1})
    return result["Instances"][0]["InstanceId"]


def test_describe_instances_returns_pascal_case_json_with_iso_timestamps(tasks) -> None:
    instance = launch(tasks)
    result = tasks.run(SDK + "ec2:describeInstances", {"InstanceIds": [instance]})
    described = result["Reservations"][0]["Instances"][0]
    assert described["InstanceId"] == instance
    assert described["State"]["Name"] == "running"
    assert described["LaunchTime"].endswith("Z") and "T" in described["LaunchTime"]
    assert "ResponseMetadata" not in result
    assert json.loads(json.dumps(result)) == result


def test_camel_case_apis_take_and_give_pascal_case(tasks) -> None:
    """Step Functions' own API is camelCase (`name`, `roleArn`); through aws-sdk it is PascalCase."""
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    role = "arn:aws:iam::123456789012:role/sfn"
    created = tasks.run(
        SDK + "sfn:createStateMachine", {"Name": "m", "Definition": definition, "RoleArn": role}
    )
    assert set(created) >= {"StateMachineArn", "CreationDate"}
    described = tasks.run(SDK + "sfn:describeStateMachine", {"StateMachineArn": created["StateMachineArn"]})
    assert described["Name"] == "m" and described["RoleArn"] == role and json.loads(described["Definition"])


def test_blobs_go_in_and_come_out_as_text(tasks) -> None:
    tasks.run(SDK + "s3:createBucket", {"Bucket": "notes"})
    tasks.run(SDK + "s3:putObject", {"Bucket": "notes", "Key": "a.txt", "Body": "héllo"})
    assert tasks.run(SDK + "s3:getObject", {"Bucket": "notes", "Key": "a.txt"})["Body"] == "héllo"


def test_step_functions_service_names_and_boto3_names_both_resolve(tasks) -> None:
    vpc = tasks.run(SDK + "ec2:createVpc", {"CidrBlock": "10.9.0.0/16"})["Vpc"]["VpcId"]
    tasks.run(SDK + "elbv2:createTargetGroup", {"Name": "tg", "Protocol": "HTTP", "Port": 80, "VpcId": vpc})
    by_sfn_name = tasks.run(SDK + "elasticloadbalancingv2:describeTargetGroups", {})
    by_boto_name = tasks.run(SDK + "elbv2:describeTargetGroups", {})
    assert [g["TargetGroupName"] for g in by_sfn_name["TargetGroups"]] == ["tg"]
    assert by_sfn_name == by_boto_name
    assert {name: boto_service_name(name) for name in ("sfn", "cloudwatchlogs", "eventbridge", "acmpca")} == {
        "sfn": "stepfunctions",
        "cloudwatchlogs": "logs",
        "eventbridge": "events",
        "acmpca": "acm-pca",
    }


def test_a_missing_instance_is_ec2s_generic_exception_with_the_code_in_the_cause(tasks) -> None:
    """EC2 models no error shapes, so Step Functions (Java SDK v2) names every EC2 error Ec2.Ec2Exception."""
    with pytest.raises(StatesError) as info:
        tasks.run(SDK + "ec2:stopInstances", {"InstanceIds": ["i-0123456789abcdef0"]})
    assert info.value.error == "Ec2.Ec2Exception"
    assert info.value.cause.startswith("The instance ID 'i-0123456789abcdef0' does not exist (Service: Ec2, ")
    assert "Status Code: 400, Error Code: InvalidInstanceID.NotFound" in info.value.cause


@pytest.mark.parametrize(
    ("resource", "arguments", "error"),
    [
        ("iam:getRole", {"RoleName": "nobody"}, "Iam.NoSuchEntityException"),
        ("s3:getObject", {"Bucket": "no-such-bucket", "Key": "k"}, "S3.NoSuchBucketException"),
        (
            "sns:getTopicAttributes",
            {"TopicArn": "arn:aws:sns:us-east-1:123456789012:gone"},
            "Sns.NotFoundException",
        ),
        ("dynamodb:describeTable", {"TableName": "gone"}, "DynamoDb.ResourceNotFoundException"),
    ],
)
def test_modeled_errors_are_service_dot_shape_with_the_exception_suffix(
    tasks, resource, arguments, error
) -> None:
    with pytest.raises(StatesError) as info:
        tasks.run(SDK + resource, arguments)
    assert info.value.error == error
    assert f"Service: {error.split('.')[0]}" in info.value.cause


def test_the_naming_rule() -> None:
    assert [pascal(s) for s in ("EC2", "DynamoDB", "ACM PCA", "Elastic Load Balancing v2", "SFN", "S3")] == [
        "Ec2",
        "DynamoDb",
        "AcmPca",
        "ElasticLoadBalancingV2",
        "Sfn",
        "S3",
    ]
    assert (
        sdk_error_name("s3", "BucketAlreadyExists") == "S3.BucketAlreadyExistsException"
    )  # AWS's own example
    assert sdk_error_name("iam", "NoSuchEntity") == "Iam.NoSuchEntityException"
    assert sdk_error_name("ec2", "InvalidGroup.Duplicate") == "Ec2.Ec2Exception"
    assert sdk_error_name("autoscaling", "SomethingUnmodeled") == "AutoScaling.AutoScalingException"


def test_equals_is_written_equals_value() -> None:
    shapes = ShapeResolver(
        {
            "In": {
                "type": "structure",
                "members": {"Equals": {"shape": "S"}, "stateMachineArn": {"shape": "S"}},
            },
            "S": {"type": "string"},
        }
    )
    converted = to_boto({"EqualsValue": "x", "StateMachineArn": "arn"}, shapes.get_shape_by_name("In"))
    assert converted == {"Equals": "x", "stateMachineArn": "arn"}


def test_throttling_is_task_failed_naming_the_endpoint_after_botocores_retries(aws: str) -> None:
    with answering(400, ec2_throttling_body()) as server:
        tasks = reynard(server.url, aws={"region": "us-east-1", "max_attempts": 2})
        with pytest.raises(StatesError) as info:
            tasks.run(SDK + "ec2:describeInstances", {})
    assert info.value.error == "States.TaskFailed"
    assert info.value.cause == (
        f"ec2:DescribeInstances throttled by {server.url} after 2 attempt(s): Throttling: Rate exceeded"
    )
    assert server.requests == 2


def test_an_unreachable_endpoint_is_task_failed_naming_it() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    tasks = reynard(endpoint, aws={"region": "us-east-1", "max_attempts": 1, "connect_timeout": 1})
    with pytest.raises(StatesError) as info:
        tasks.run(SDK + "ec2:describeInstances", {})
    assert info.value.error == "States.TaskFailed"
    assert info.value.cause.startswith(f"ec2:DescribeInstances: cannot reach {endpoint}")


def test_invalid_parameters_fail_without_echoing_their_values(tasks) -> None:
    with pytest.raises(StatesError) as info:
        tasks.run(SDK + "iam:createLoginProfile", {"UserName": "u", "Password": 12345678})
    assert info.value.error == "States.TaskFailed"
    assert "Invalid type for parameter Password" in info.value.cause and "12345678" not in info.value.cause


def test_a_dry_run_reads_but_does_not_change(tasks) -> None:
    instance = launch(tasks)
    planned = tasks.run(SDK + "ec2:stopInstances", {"InstanceIds": [instance]}, context(dry_run=True))
    assert planned == {
        "DryRun": True,
        "WouldCall": "ec2:StopInstances",
        "Parameters": {"InstanceIds": [instance]},
    }
    described = tasks.run(SDK + "ec2:describeInstances", {"InstanceIds": [instance]}, context(dry_run=True))
    assert described["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (SDK + "nosuchservice:doThing", "no AWS service named 'nosuchservice'"),
        (SDK + "ec2:launchRockets", "ec2 has no action 'launchRockets'"),
        (SDK + "ec2", "expected aws-sdk:SERVICE:ACTION"),
        (SDK + "ec2:describeInstances.sync", "aws-sdk integrations do not support .sync"),
    ],
)
def test_a_resource_that_names_no_api_is_refused(tasks, resource: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message.replace(".", r"\.")):
        parse_resource(resource)
    with pytest.raises(StatesError) as info:
        tasks.run(resource, {})
    assert info.value.error == "States.Runtime" and message in info.value.cause


def test_service_models_load_whatever_aws_profile_names() -> None:
    """Models are read without a profile: an AWS_PROFILE naming none that exists broke every task."""
    import os
    import subprocess
    import sys

    code = "from reynard.respond.aws_sdk import service_model; print(service_model('ec2').service_name)"
    env = {**os.environ, "AWS_PROFILE": "no-such-profile"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ec2"
