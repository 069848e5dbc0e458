"""`arn:aws:states:::aws-sdk:SERVICE:ACTION`: any boto3 call, named, shaped and failing as Step Functions
does, so a playbook behaves the same here and once exported to AWS.

The rules, from AWS's "Learning to use AWS service SDK integrations in Step Functions" (developer guide):

- The resource names the service as Step Functions does (`ec2`, `elasticloadbalancingv2`, `sfn`,
  `cloudwatchlogs`: the service id in PascalCase, lowercased); boto3's own name (`elbv2`, `stepfunctions`)
  is accepted too. The action is the API action in camelCase: `describeInstances` is `DescribeInstances`.
- Parameters are PascalCase even where the service's API is camelCase (`StateMachineArn` for
  `stateMachineArn`); a member named `Equals` is written `EqualsValue`. Results come back PascalCase too,
  JSON-safe: timestamps as ISO 8601 UTC strings, blobs as UTF-8 text (base64 when not text).
- An error is `ServiceName.ErrorName`, both PascalCase, always with the `Exception` suffix
  (`AcmPca.ResourceNotFoundException`, `S3.BucketAlreadyExistsException` for S3's `BucketAlreadyExists`).
  Step Functions calls AWS through the Java SDK v2, whose exception classes are the service's modeled error
  shapes; an error code a service does not model surfaces as the service's base exception. EC2 models no
  error shapes at all, so every EC2 error is `Ec2.Ec2Exception` and the code (`InvalidInstanceID.NotFound`)
  is in the cause, as LocalStack's AWS-validated aws-sdk task names it
  (`localstack/services/stepfunctions/.../state_task_service_aws_sdk.py`, `_normalise_exception_name`).

Reynard's own additions, where Step Functions has no equivalent: a throttled call (after botocore's retries)
and an endpoint that cannot be reached are `States.TaskFailed`, with a cause naming the endpoint; so is a
call with invalid parameters (values redacted from the cause) and missing credentials or region.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.response import StreamingBody

from reynard.events.timestamps import zulu
from reynard.settings import AwsSection, SandboxCredentials, Settings

from .errors import DefinitionError, StatesError
from .permissions import call_name, check_call
from .resources import TaskContext

AWS_SDK_PREFIX = "arn:aws:states:::aws-sdk:"
TASK_FAILED = "States.TaskFailed"

# Error codes that mean "slow down", not "no": reported as throttling, never as the service refusing.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
    }
)

# Step Functions' names for services whose boto3 name differs by more than hyphens (the rest are found by
# deriving every service's name, which loads all botocore models once: about four seconds).
_KNOWN_SFN_NAMES = {
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "sfn": "stepfunctions",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "apigateway": "apigateway",
    "acmpca": "acm-pca",
}

_READ_ONLY_VERBS = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Scan", "Query", "BatchGet")


def pascal(name: str) -> str:
    """PascalCase as AWS SDKs spell it: `DynamoDB` -> `DynamoDb`, `EC2` -> `Ec2`, `ACM PCA` -> `AcmPca`.

    Each word is split at case changes (a run of capitals ends before the capital that starts the next
    word), and each part is capitalised with the rest lowercase.
    """
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z0-9]+", name)
    return "".join(part[:1].upper() + part[1:].lower() for part in parts)


@cache
def _models() -> botocore.session.Session:
    """A session that only reads service models: it never looks at a profile (an `AWS_PROFILE` naming
    none that exists made every model look-up fail with ProfileNotFound)."""
    return botocore.session.Session(session_vars={"profile": (None, None, None, None)})


_MODELS_LOCK = threading.Lock()


def service_model(boto_name: str) -> ServiceModel:
    with _MODELS_LOCK:
        return _models().get_service_model(boto_name)


@cache
def _available() -> frozenset[str]:
    return frozenset(_models().get_available_services())


@cache
def _derived_sfn_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for boto_name in sorted(_available()):
        names.setdefault(pascal(service_model(boto_name).service_id).lower(), boto_name)
    return names


def boto_service_name(name: str) -> str | None:
    """boto3's name for a service as a Step Functions resource names it, or None if no service has it."""
    lowered = name.lower()
    available = _available()
    if lowered in available:
        return lowered
    if lowered in _KNOWN_SFN_NAMES:
        return _KNOWN_SFN_NAMES[lowered]
    for boto_name in available:
        if boto_name.replace("-", "") == lowered:
            return boto_name
    return _derived_sfn_names().get(lowered)


@dataclass(frozen=True)
class SdkTarget:
    """A parsed aws-sdk resource: the boto3 service and the API operation it calls."""

    resource: str
    service: str  # boto3's name
    operation: str  # the API's name, e.g. DescribeInstances

    @property
    def method(self) -> str:
        return xform_name(self.operation)

    @property
    def model(self) -> OperationModel:
        return service_model(self.service).operation_model(self.operation)


def parse_resource(resource: str) -> SdkTarget:
    """`arn:aws:states:::aws-sdk:ec2:describeInstances` -> the boto3 call, or a DefinitionError saying why."""
    if not resource.startswith(AWS_SDK_PREFIX):
        raise DefinitionError(f"not an aws-sdk resource: {resource!r}", field="Resource")
    rest = resource[len(AWS_SDK_PREFIX) :]
    if rest.endswith(".sync"):
        raise DefinitionError(f"{resource}: aws-sdk integrations do not support .sync", field="Resource")
    service, _, action = rest.partition(":")
    if not service or not action or ":" in action:
        raise DefinitionError(f"expected aws-sdk:SERVICE:ACTION, got {resource!r}", field="Resource")
    boto_name = boto_service_name(service)
    if boto_name is None:
        raise DefinitionError(f"{resource}: no AWS service named {service!r}", field="Resource")
    operations = service_model(boto_name).operation_names
    wanted = action[:1].upper() + action[1:]
    operation = (
        wanted if wanted in operations else next((o for o in operations if o.lower() == action.lower()), None)
    )
    if operation is None:
        raise DefinitionError(f"{resource}: {service} has no action {action!r}", field="Resource")
    return SdkTarget(resource, boto_name, operation)


def is_read_only(operation: str) -> bool:
    """Whether an API action only reads (runs even in a dry run): Describe*, Get*, List*, ..."""
    return operation.startswith(_READ_ONLY_VERBS)


# -- parameters in, results out ----------------------------------------------------------------------------


def _member_name(members: Mapping[str, Shape], key: str) -> str:
    if key in members:
        return key
    if key == "EqualsValue" and "Equals" in members:
        return "Equals"
    camel = key[:1].lower() + key[1:]
    if camel in members:
        return camel
    return next((m for m in members if m.lower() == key.lower()), key)


def to_boto(value: Any, shape: Shape | None) -> Any:
    """Step Functions' parameters (PascalCase, text for blobs) as boto3 takes them (the model's names)."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _member_name(shape.members, key)
            out[name] = to_boto(item, shape.members.get(name))
        return out
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_boto(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, Mapping):
        return {key: to_boto(item, shape.value) for key, item in value.items()}
    if shape.type_name == "blob" and isinstance(value, str):
        return value.encode()
    return value


def iso_timestamp(value: datetime | date) -> str:
    """A time boto returned, as JSON: `events.timestamps.zulu` (UTC, `Z`, milliseconds when there is a
    fraction), as ASL's timestamp comparisons expect; a date as `YYYY-MM-DD`."""
    return zulu(value) if isinstance(value, datetime) else value.isoformat()


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return base64.b64encode(data).decode()


def from_boto(value: Any, shape: Shape | None = None) -> Any:
    """A boto3 result as Step Functions returns it: PascalCase member names, JSON-safe values."""
    if isinstance(value, Mapping):
        if isinstance(shape, StructureShape):
            return {
                key[:1].upper() + key[1:]: from_boto(item, shape.members.get(key))
                for key, item in value.items()
            }
        inner = shape.value if isinstance(shape, MapShape) else None
        return {str(key): from_boto(item, inner) for key, item in value.items()}
    if isinstance(value, list | tuple):
        inner = shape.member if isinstance(shape, ListShape) else None
        return [from_boto(item, inner) for item in value]
    if isinstance(value, datetime | date):
        return iso_timestamp(value)
    if isinstance(value, StreamingBody):
        return _text(value.read())
    if isinstance(value, bytes | bytearray):
        return _text(bytes(value))
    return value


# -- errors ------------------------------------------------------------------------------------------------


class AwsCallError(StatesError):
    """A StatesError from an AWS answer, keeping the service's own error code for code that must react to
    one (`InvalidGroup.Duplicate` after a race); the interpreter sees a plain StatesError."""

    def __init__(self, error: str, cause: str, code: str):
        super().__init__(error, cause)
        self.code = code


@cache
def _modeled_errors(boto_name: str) -> dict[str, str]:
    return {shape.error_code: shape.name for shape in service_model(boto_name).error_shapes}


def service_error_prefix(boto_name: str) -> str:
    """`Ec2`, `Iam`, `S3`, `DynamoDb`, `ElasticLoadBalancingV2`: the service part of an aws-sdk error name."""
    return pascal(service_model(boto_name).service_id)


def sdk_error_name(boto_name: str, code: str) -> str:
    """Step Functions' name for an error `code` of a service (see the module docstring for the rule)."""
    prefix = service_error_prefix(boto_name)
    shape = _modeled_errors(boto_name).get(code)
    name = shape if shape is not None else f"{prefix}Exception"
    return f"{prefix}.{name if name.endswith('Exception') else name + 'Exception'}"


def _redacted(message: str) -> str:
    # botocore quotes the offending value ("value: hunter2, type: ..."); a parameter may be a secret.
    return re.sub(r"value: .*?, type:", "value: <redacted>, type:", message)


def states_error(exc: Exception, boto_name: str, operation: str, endpoint: str | None) -> StatesError:
    """The StatesError for one failed boto3 call of `boto_name`:`operation` at `endpoint`."""
    where = f"{boto_name}:{operation}"
    place = endpoint or "the default AWS endpoint"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        status = meta.get("HTTPStatusCode")
        if code in THROTTLING_CODES or status == 429:
            attempts = int(meta.get("RetryAttempts", 0)) + 1
            return StatesError(
                TASK_FAILED, f"{where} throttled by {place} after {attempts} attempt(s): {code}: {message}"
            )
        details = [
            f"Service: {service_error_prefix(boto_name)}",
            f"Status Code: {status}",
            f"Error Code: {code}",
        ]
        if meta.get("RequestId"):
            details.append(f"Request ID: {meta['RequestId']}")
        return AwsCallError(sdk_error_name(boto_name, code), f"{message} ({', '.join(details)})", code)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError):
        return StatesError(TASK_FAILED, f"{where}: cannot reach {place}: {exc}")
    if isinstance(exc, ReadTimeoutError):
        return StatesError(TASK_FAILED, f"{where}: {place} did not answer in time: {exc}")
    if isinstance(exc, NoCredentialsError):
        return StatesError(
            TASK_FAILED,
            f"{where}: no AWS credentials (environment, shared credentials file or instance role)",
        )
    if isinstance(exc, NoRegionError):
        return StatesError(
            TASK_FAILED, f"{where}: no AWS region: set respond.aws.region or AWS_DEFAULT_REGION"
        )
    if isinstance(exc, ParamValidationError):
        return StatesError(TASK_FAILED, f"{where}: invalid parameters: {_redacted(str(exc))}")
    return StatesError(TASK_FAILED, f"{where} at {place}: {type(exc).__name__}: {exc}")


# -- clients -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsConfig(AwsSection):
    """Where and how boto3 calls go: the `[respond.aws]` table (checked when the settings were loaded),
    with the endpoint of the invocation (`--endpoint-url`) when it has one."""

    @classmethod
    def from_settings(cls, settings: Settings, endpoint_url: str | None = None) -> AwsConfig:
        """The `[respond.aws]` table of the settings file; `endpoint_url` (e.g. `--endpoint-url`) wins."""
        aws = settings.respond.aws
        config = cls(**{f.name: getattr(aws, f.name) for f in fields(AwsSection)})
        return config if endpoint_url is None else replace(config, endpoint_url=endpoint_url)


def sandbox_session(credentials: SandboxCredentials, region: str | None) -> boto3.session.Session:
    """A session signing with a sandbox's test credentials only: no profile (not even AWS_PROFILE's,
    which names the user's real account), no credentials from the environment or files."""
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.session.Session(
        botocore_session=core,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=region,
    )


class AwsClients:
    """One boto3 session, one client per (service, region), all pointed at the configured endpoint.

    Every client checks each call against the running task's declared calls (`permissions.check_call`)
    before it is signed or sent.
    """

    def __init__(self, config: AwsConfig):
        self.config = config
        sandbox = config.sandbox_credentials  # a running `reynard sandbox`: its keys, never the user's
        try:
            self._session = (
                boto3.session.Session(profile_name=config.profile, region_name=config.region)
                if sandbox is None
                else sandbox_session(sandbox, config.region)
            )
        except ProfileNotFound as exc:
            raise config.place.error(f"profile: {exc}", "profile") from None
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()
        self._botocore_config = Config(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        )

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client; StatesError (States.TaskFailed) when no region is known."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                try:
                    client = self._session.client(
                        service,
                        region_name=region or self.config.region,
                        endpoint_url=self.config.endpoint_url,
                        config=self._botocore_config,
                    )
                except NoRegionError as exc:
                    raise states_error(exc, service, "client", self.config.endpoint_url) from None
                client.meta.events.register("before-call", check_call)
                self._clients[key] = client
            return self._clients[key]


def endpoint_of(client: Any) -> str:
    return str(client.meta.endpoint_url)


def call(client: Any, method: str, **params: Any) -> dict[str, Any]:
    """`client.<method>(**params)` with any failure raised as the StatesError Step Functions would give."""
    model = client.meta.service_model
    try:
        response = getattr(client, method)(**params)
    except (ClientError, BotoCoreError) as exc:
        operation = model.operation_model(_operation_name(model, method)).name
        raise states_error(exc, model.service_name, operation, endpoint_of(client)) from None
    response.pop("ResponseMetadata", None)
    return response


def paginate(client: Any, method: str, key: str, **params: Any) -> Iterator[Any]:
    """Every item under `key` across all pages, failures raised as by `call`."""
    model = client.meta.service_model
    try:
        for page in client.get_paginator(method).paginate(**params):
            yield from page.get(key, [])
    except (ClientError, BotoCoreError) as exc:
        operation = model.operation_model(_operation_name(model, method)).name
        raise states_error(exc, model.service_name, operation, endpoint_of(client)) from None


def _operation_name(model: ServiceModel, method: str) -> str:
    return next((op for op in model.operation_names if xform_name(op) == method), method)


# -- the task resource -------------------------------------------------------------------------------------


class AwsSdkTask:
    """The handler for every `arn:aws:states:::aws-sdk:` resource.

    In a dry run, read-only actions (Describe*, Get*, List*, ...) still run, since they change nothing and
    their answers are what a dry run needs; any other action is described, not called.
    """

    def __init__(self, clients: AwsClients):
        self.clients = clients

    def aws_calls(self, resource: str) -> frozenset[str]:
        """The one call the resource names (`ec2:DescribeInstances`); none for a resource that names no
        API action (invoking it fails with States.Runtime)."""
        try:
            target = parse_resource(resource)
        except DefinitionError:
            return frozenset()
        return frozenset({call_name(service_model(target.service), target.operation)})

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        try:
            target = parse_resource(resource)
        except DefinitionError as exc:
            raise StatesError("States.Runtime", str(exc)) from None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise StatesError(
                TASK_FAILED, f"{resource}: parameters must be an object, not {type(arguments).__name__}"
            )
        if context.dry_run and not is_read_only(target.operation):
            return {
                "DryRun": True,
                "WouldCall": f"{target.service}:{target.operation}",
                "Parameters": arguments,
            }
        model = target.model
        client = self.clients.client(target.service)
        response = call(client, target.method, **to_boto(dict(arguments), model.input_shape))
        return from_boto(response, model.output_shape)


__all__ = [
    "AWS_SDK_PREFIX",
    "AwsCallError",
    "AwsClients",
    "AwsConfig",
    "AwsSdkTask",
    "SdkTarget",
    "boto_service_name",
    "call",
    "from_boto",
    "iso_timestamp",
    "paginate",
    "parse_resource",
    "pascal",
    "sandbox_session",
    "sdk_error_name",
    "states_error",
    "to_boto",
]
