"""Step Functions' optimized integrations `arn:aws:states:::sns:publish` and `arn:aws:states:::lambda:invoke`
(and the older `arn:aws:lambda:REGION:ACCOUNT:function:NAME` form), shaped and named as Step Functions does.

These predate the AWS SDK integrations and name their errors after the Java SDK v1:
- sns:publish: `SNS.<Code>Exception` (`SNS.NotFoundException`), the cause ending `(Service: AmazonSNS;
  Status Code: ...; Error Code: ...; Request ID: ...)`.
- lambda:invoke: the function's own `errorType` when it raises (`ValueError`, or `Lambda.Unknown` when the
  payload names none), else `Lambda.<Code>` (`Lambda.ResourceNotFoundException`,
  `Lambda.TooManyRequestsException`), `Lambda.AWSLambdaException` for an unmodeled answer and
  `Lambda.SdkClientException` when the endpoint cannot be reached: the names AWS's "Handle Lambda service
  exceptions" page tells playbooks to retry on. Its result is `{"ExecutedVersion", "Payload",
  "StatusCode"}`, the Payload parsed from JSON when it is JSON.
A registered Python action (python.py) answers a lambda:invoke of its name, in process.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws_sdk import TASK_FAILED, THROTTLING_CODES, AwsClients, endpoint_of, states_error
from ..errors import StatesError
from ..resources import TaskContext
from .python import PythonActions

SNS_PUBLISH = "arn:aws:states:::sns:publish"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_ARN_PREFIX = "arn:aws:lambda:"

_SNS_PARAMETERS = frozenset(
    {
        "Message",
        "MessageAttributes",
        "MessageStructure",
        "MessageDeduplicationId",
        "MessageGroupId",
        "PhoneNumber",
        "Subject",
        "TargetArn",
        "TopicArn",
    }
)
_LAMBDA_PARAMETERS = frozenset(
    {"FunctionName", "Payload", "InvocationType", "Qualifier", "ClientContext", "LogType"}
)


def _parameters(resource: str, arguments: Any, known: frozenset[str]) -> dict[str, Any]:
    if not isinstance(arguments, Mapping):
        raise StatesError(TASK_FAILED, f"{resource}: parameters must be an object")
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise StatesError(TASK_FAILED, f"{resource}: unsupported parameter(s) {', '.join(unknown)}")
    return dict(arguments)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _payload_text(payload: Any) -> str:
    """A Payload as Lambda receives it: JSON text as is, any other string or value encoded as JSON."""
    if payload is None:
        return "{}"
    if isinstance(payload, str):
        try:
            json.loads(payload)
        except json.JSONDecodeError:
            return json.dumps(payload)
        return payload
    return json.dumps(payload, separators=(",", ":"))


class SnsPublish:
    def __init__(self, clients: AwsClients):
        self.clients = clients

    def aws_calls(self, resource: str) -> frozenset[str]:
        return frozenset({"sns:Publish"})

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        params = _parameters(resource, arguments, _SNS_PARAMETERS)
        if "Message" not in params:
            raise StatesError(TASK_FAILED, f"{resource}: the Message parameter is required")
        params["Message"] = _json_text(params["Message"])  # as Step Functions does for a JSON Message
        if context.dry_run:
            return {"DryRun": True, "WouldPublish": params}
        sns = self.clients.client("sns")
        try:
            response = sns.publish(**params)
        except ClientError as exc:
            raise _sns_error(exc, endpoint_of(sns)) from None
        except BotoCoreError as exc:
            raise states_error(exc, "sns", "Publish", endpoint_of(sns)) from None
        meta = response.pop("ResponseMetadata", {})
        return {
            **response,
            "SdkHttpMetadata": {"HttpStatusCode": meta.get("HTTPStatusCode")},
            "SdkResponseMetadata": {"RequestId": meta.get("RequestId")},
        }


def _sns_error(exc: ClientError, endpoint: str) -> StatesError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    meta = exc.response.get("ResponseMetadata", {})
    if code in THROTTLING_CODES or meta.get("HTTPStatusCode") == 429:
        return states_error(exc, "sns", "Publish", endpoint)
    message = exc.response.get("Error", {}).get("Message", "")
    cause = (
        f"{message} (Service: AmazonSNS; Status Code: {meta.get('HTTPStatusCode')}; Error Code: {code}; "
        f"Request ID: {meta.get('RequestId')}; Proxy: null)"
    )
    return StatesError(f"SNS.{code if code.endswith('Exception') else code + 'Exception'}", cause)


class LambdaInvoke:
    """`arn:aws:states:::lambda:invoke`: a registered Python action by that name, else a real Lambda."""

    def __init__(self, clients: AwsClients, python_actions: PythonActions):
        self.clients = clients
        self.python_actions = python_actions

    def aws_calls(self, resource: str) -> frozenset[str]:
        """A real Lambda's Invoke (a Python action of the name runs in process and calls nothing)."""
        return frozenset({"lambda:Invoke"})

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        params = _parameters(resource, arguments, _LAMBDA_PARAMETERS)
        name = params.get("FunctionName")
        if not isinstance(name, str) or not name:
            raise StatesError(TASK_FAILED, f"{resource}: the FunctionName parameter is required")
        payload = params.get("Payload")
        action = self.python_actions.get(name)
        invocation = params.get("InvocationType", "RequestResponse")
        if invocation == "DryRun" or (context.dry_run and not (action and action.dry_run_safe)):
            return {"DryRun": True, "WouldInvoke": name, "Payload": payload, "StatusCode": 204}
        if action is not None:
            result = _run_python(action.name, action.function, payload, context)
            if invocation == "Event":
                return {"Payload": "", "StatusCode": 202}
            return {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
        return self._invoke_lambda(params, payload)

    def _invoke_lambda(self, params: dict[str, Any], payload: Any) -> dict[str, Any]:
        client = self.clients.client("lambda")
        params["Payload"] = _payload_text(payload).encode()
        try:
            response = client.invoke(**params)
        except ClientError as exc:
            raise _lambda_error(exc) from None
        except BotoCoreError as exc:
            raise StatesError(
                "Lambda.SdkClientException", f"cannot invoke at {endpoint_of(client)}: {exc}"
            ) from None
        raw = response["Payload"].read().decode(errors="replace")
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw
        if response.get("FunctionError"):
            error_type = body.get("errorType") if isinstance(body, dict) else None
            raise StatesError(str(error_type or "Lambda.Unknown"), raw)
        result = {
            "ExecutedVersion": response.get("ExecutedVersion"),
            "Payload": body,
            "StatusCode": response.get("StatusCode"),
        }
        if response.get("LogResult"):
            result["LogResult"] = response["LogResult"]
        return result


class LambdaFunction:
    """`arn:aws:lambda:REGION:ACCOUNT:function:NAME`: input is the event, its result the payload."""

    def __init__(self, invoker: LambdaInvoke):
        self.invoker = invoker

    def aws_calls(self, resource: str) -> frozenset[str]:
        return self.invoker.aws_calls(LAMBDA_INVOKE)

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        result = self.invoker.invoke(LAMBDA_INVOKE, {"FunctionName": resource, "Payload": arguments}, context)
        return result if result.get("DryRun") else result.get("Payload")


def _run_python(name: str, function: Any, payload: Any, context: TaskContext) -> Any:
    event = json.loads(_payload_text(payload))  # a copy: the function cannot change the execution's data
    try:
        result = function(event, context)
    except StatesError:
        raise
    except Exception as exc:  # reported as Lambda reports a function's error
        stack = traceback.format_tb(exc.__traceback__)[-5:]
        cause = {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": stack}
        raise StatesError(type(exc).__name__, json.dumps(cause)) from None
    try:
        return json.loads(json.dumps(result))
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response of {name}: {exc}"
        raise StatesError(
            "Runtime.MarshalError", json.dumps({"errorMessage": message, "errorType": "Runtime.MarshalError"})
        ) from None


def _lambda_error(exc: ClientError) -> StatesError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    meta = exc.response.get("ResponseMetadata", {})
    message = exc.response.get("Error", {}).get("Message", "")
    cause = (
        f"{message} (Service: AWSLambda; Status Code: {meta.get('HTTPStatusCode')}; Error Code: {code}; "
        f"Request ID: {meta.get('RequestId')}; Proxy: null)"
    )
    modeled = exc.response.get("Error", {}).get("Code") and type(exc).__name__ != "ClientError"
    name = code if code.endswith("Exception") else f"{code}Exception"
    return StatesError(f"Lambda.{name}" if modeled else "Lambda.AWSLambdaException", cause)
