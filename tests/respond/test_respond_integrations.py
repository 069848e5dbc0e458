"""sns:publish and lambda:invoke as Step Functions shapes them, Python actions, and `register_all`'s wiring.

SNS runs in moto (the message read back from an SQS queue subscribed to the topic). A real Lambda runs in
moto with `use_docker: false`, where moto answers an invocation with its payload; a function error cannot
happen there, so a local HTTP server answers as Lambda does for one (`X-Amz-Function-Error`).
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import urllib3

from respond_support import answering, client, context, free_port, reset, reynard, settings
from reynard.errors import ConfigError
from reynard.respond.actions import ACTIONS, PythonActions, register_all
from reynard.respond.dispatch import Dispatch
from reynard.respond.errors import StatesError
from reynard.respond.resources import TaskContext

SNS = "arn:aws:states:::sns:publish"
LAMBDA = "arn:aws:states:::lambda:invoke"


@pytest.fixture
def tasks(aws: str):
    reset(aws)
    return reynard(aws)


def subscribed_topic(aws: str) -> tuple[str, str]:
    sns, sqs = client(aws, "sns"), client(aws, "sqs")
    topic = sns.create_topic(Name="soc")["TopicArn"]
    queue = sqs.create_queue(QueueName="soc-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def test_sns_publish_delivers_and_is_shaped_as_step_functions(aws: str, tasks) -> None:
    topic, queue = subscribed_topic(aws)
    result = tasks.run(
        SNS,
        {
            "TopicArn": topic,
            "Subject": "Instance isolated",
            "Message": {"instance": "i-1", "isolated": True},  # a JSON Message is sent as its text
            "MessageAttributes": {"severity": {"DataType": "String", "StringValue": "HIGH"}},
        },
    )
    assert set(result) == {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert result["SdkHttpMetadata"] == {"HttpStatusCode": 200}
    (message,) = client(aws, "sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["MessageId"] == result["MessageId"] and envelope["Subject"] == "Instance isolated"
    assert json.loads(envelope["Message"]) == {"instance": "i-1", "isolated": True}
    assert envelope["MessageAttributes"]["severity"]["Value"] == "HIGH"


def test_sns_errors_are_named_as_the_optimized_integration_names_them(tasks) -> None:
    with pytest.raises(StatesError) as info:
        tasks.run(SNS, {"TopicArn": "arn:aws:sns:us-east-1:123456789012:gone", "Message": "x"})
    assert info.value.error == "SNS.NotFoundException"
    assert "(Service: AmazonSNS; Status Code: 404; Error Code: NotFound;" in info.value.cause


def test_sns_refuses_unknown_parameters_and_a_dry_run_publishes_nothing(aws: str, tasks) -> None:
    with pytest.raises(StatesError, match="unsupported parameter"):
        tasks.run(SNS, {"TopicArn": "t", "Message": "m", "Colour": "red"})
    topic, queue = subscribed_topic(aws)
    planned = tasks.run(SNS, {"TopicArn": topic, "Message": "m"}, context(dry_run=True))
    assert planned == {"DryRun": True, "WouldPublish": {"TopicArn": topic, "Message": "m"}}
    assert client(aws, "sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []) == []


def deploy_echo_function(aws: str) -> None:
    urllib3.request("POST", f"{aws}/moto-api/config", json={"lambda": {"use_docker": False}})
    role = client(aws, "iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("h.py", "def h(event, context):\n    return event\n")
    client(aws, "lambda").create_function(
        FunctionName="echo", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": code.getvalue()}
    )


def test_lambda_invoke_of_a_real_function(aws: str, tasks) -> None:
    """moto without Docker answers an invocation with its own payload: enough to see the request and shape."""
    deploy_echo_function(aws)
    result = tasks.run(LAMBDA, {"FunctionName": "echo", "Payload": {"InstanceId": "i-1"}})
    assert result["Payload"] == {"InstanceId": "i-1"} and result["StatusCode"] == 200
    raw = tasks.run("arn:aws:lambda:us-east-1:123456789012:function:echo", {"InstanceId": "i-2"})
    assert raw == {"InstanceId": "i-2"}  # the older resource form gives the payload itself


def test_a_function_error_is_named_by_its_error_type() -> None:
    body = json.dumps({"errorType": "KeyError", "errorMessage": "'InstanceId'"}).encode()
    with answering(200, body, "application/json", {"X-Amz-Function-Error": "Unhandled"}) as server:
        tasks = reynard(server.url)
        with pytest.raises(StatesError) as info:
            tasks.run(LAMBDA, {"FunctionName": "enrich", "Payload": {}})
    assert info.value.error == "KeyError" and json.loads(info.value.cause)["errorMessage"] == "'InstanceId'"


def test_lambda_service_errors_and_unreachable_endpoints_use_lambdas_documented_names() -> None:
    """moto answers an invocation of any name once Docker is off: Lambda's 404 comes from a local server."""
    body = json.dumps({"Type": "User", "message": "Function not found: missing"}).encode()
    headers = {"x-amzn-errortype": "ResourceNotFoundException"}
    with answering(404, body, "application/json", headers) as server, pytest.raises(StatesError) as info:
        reynard(server.url).run(LAMBDA, {"FunctionName": "missing", "Payload": {}})
    assert info.value.error == "Lambda.ResourceNotFoundException"
    assert "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException;" in info.value.cause
    endpoint = f"http://127.0.0.1:{free_port()}"
    offline = reynard(endpoint, aws={"region": "us-east-1", "max_attempts": 1, "connect_timeout": 1})
    with pytest.raises(StatesError) as info:
        offline.run(LAMBDA, {"FunctionName": "fn", "Payload": {}})
    assert info.value.error == "Lambda.SdkClientException" and endpoint in info.value.cause


def test_a_python_action_answers_lambda_invoke_of_its_name(tasks) -> None:
    seen: list[TaskContext] = []

    def owner(event, ctx):
        seen.append(ctx)
        event["mutated"] = True  # a copy: the execution's data is not changed
        return {"owner": f"team-of-{event['InstanceId']}"}

    tasks.python_actions.register("find-owner", owner)
    payload = {"InstanceId": "i-1"}
    result = tasks.run(LAMBDA, {"FunctionName": "find-owner", "Payload": payload}, context("Enrich"))
    assert result == {"ExecutedVersion": "$LATEST", "Payload": {"owner": "team-of-i-1"}, "StatusCode": 200}
    assert payload == {"InstanceId": "i-1"} and seen[0].state == "Enrich"
    arn = "arn:aws:lambda:us-east-1:123456789012:function:find-owner"
    assert tasks.run(LAMBDA, {"FunctionName": arn, "Payload": payload})["Payload"] == {"owner": "team-of-i-1"}


def test_a_python_action_fails_as_a_lambda_does(tasks) -> None:
    def broken(event, ctx):
        raise ValueError("no such team")

    def refuses(event, ctx):
        raise StatesError("Team.Unknown", "nobody owns it")

    tasks.python_actions.register("broken", broken)
    tasks.python_actions.register("refuses", refuses)
    tasks.python_actions.register("unmarshalable", lambda event, ctx: {"when": object()})
    with pytest.raises(StatesError) as info:
        tasks.run(LAMBDA, {"FunctionName": "broken", "Payload": {}})
    cause = json.loads(info.value.cause)
    assert info.value.error == "ValueError" and cause["errorMessage"] == "no such team"
    assert cause["errorType"] == "ValueError" and cause["stackTrace"]
    with pytest.raises(StatesError) as info:
        tasks.run(LAMBDA, {"FunctionName": "refuses", "Payload": {}})
    assert (info.value.error, info.value.cause) == ("Team.Unknown", "nobody owns it")
    with pytest.raises(StatesError) as info:
        tasks.run(LAMBDA, {"FunctionName": "unmarshalable", "Payload": {}})
    assert info.value.error == "Runtime.MarshalError"


def test_a_dry_run_calls_only_python_actions_that_honour_it(tasks) -> None:
    calls: list[bool] = []
    tasks.python_actions.register("careless", lambda event, ctx: calls.append(ctx.dry_run))
    tasks.python_actions.register(
        "careful", lambda event, ctx: calls.append(ctx.dry_run) or "planned", dry_run_safe=True
    )
    planned = tasks.run(LAMBDA, {"FunctionName": "careless", "Payload": {"a": 1}}, context(dry_run=True))
    assert planned == {"DryRun": True, "WouldInvoke": "careless", "Payload": {"a": 1}, "StatusCode": 204}
    assert tasks.run(LAMBDA, {"FunctionName": "careful"}, context(dry_run=True))["Payload"] == "planned"
    assert calls == [True]


def test_python_action_names_are_lambda_names_registered_once() -> None:
    table = PythonActions()
    table.register("enrich", lambda e, c: e)
    with pytest.raises(ValueError, match="already registered"):
        table.register("enrich", lambda e, c: e)
    with pytest.raises(ValueError, match="Lambda function name"):
        table.register("bad name!", lambda e, c: e)


def test_register_all_registers_every_resource_and_the_table_dispatches_by_prefix(aws: str) -> None:
    table = Dispatch()
    register_all(table, settings(), endpoint_url=aws)
    assert set(table.registered()) == {
        "arn:aws:states:::aws-sdk:*",
        "arn:aws:lambda:*",
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::lambda:invoke",
        *(f"reynard:{action.name}" for action in ACTIONS),
    }
    assert len(ACTIONS) == 15
    with pytest.raises(StatesError) as info:
        table.invoke("reynard:launch-rockets", {}, context())
    assert info.value.error == "States.Runtime"
    with pytest.raises(ValueError, match="already registered"):
        register_all(table, settings(), endpoint_url=aws)


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        ({"aws": {"regoin": "us-east-1"}}, "settings: respond.aws: unknown key 'regoin'"),
        ({"aws": {"max_attempts": "3"}}, "respond.aws: key 'max_attempts' must be an integer, not a string"),
        ({"forensics": {"memory_command": "x"}}, "settings: respond.forensics: unknown key 'memory_command'"),
        ({"notifiers": {"soc": {"type": "pager"}}}, "respond.notifiers.soc: unknown notifier type 'pager'"),
        ({"actions": {"verify_attempts": 0}}, "verify_attempts' must be 1 or more"),
    ],
)
def test_bad_settings_fail_when_read_naming_the_key(respond, message: str) -> None:
    # The [respond.*] tables are checked when the settings are read, before any action is registered.
    with pytest.raises(ConfigError) as info:
        settings(**respond)
    assert message in str(info.value)
