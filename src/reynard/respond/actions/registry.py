"""Wiring: every task resource this package answers, registered into the interpreter's dispatch in one call.

    register_all(dispatch, settings, endpoint_url=url, incidents=PlaybookIncidents(incident_store))

`dispatch` is anything with `register(name_or_prefix, handler)`; a name ending in `:` is a prefix
(`arn:aws:states:::aws-sdk:`, `arn:aws:lambda:`), any other an exact resource. Handlers follow
`TaskInvoker.invoke(resource, arguments, context)`; `reynard.respond.dispatch.Dispatch` is the dispatch
the interpreter uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from reynard.cases.sink import IncidentSink
from reynard.settings import Settings

from ..aws_sdk import AWS_SDK_PREFIX, AwsClients, AwsConfig, AwsSdkTask
from ..resources import ACTION_PREFIX, TaskInvoker
from .asg import DetachFromAsg
from .base import Action, ActionEnv
from .bucket import BlockBucketPublicAccess
from .config import RespondConfig
from .credentials import DisableAccessKey, RevokeRoleSessions
from .forensics import CollectForensics
from .incident import AddTimelineEntry, OpenIncident
from .integrations import (
    LAMBDA_ARN_PREFIX,
    LAMBDA_INVOKE,
    SNS_PUBLISH,
    LambdaFunction,
    LambdaInvoke,
    SnsPublish,
)
from .isolate import IsolateInstance
from .lifecycle import StopInstance, TerminateInstance
from .load_balancers import DeregisterFromLoadBalancers
from .notify import Notify, RequestApproval
from .protect import ProtectInstance
from .python import DEFAULT_PYTHON_ACTIONS, PythonActions
from .snapshot import SnapshotVolumes

# Every built-in action, by resource: `reynard:<name>`.
ACTIONS: tuple[type[Action], ...] = (
    IsolateInstance,
    SnapshotVolumes,
    ProtectInstance,
    DetachFromAsg,
    DeregisterFromLoadBalancers,
    CollectForensics,
    RevokeRoleSessions,
    DisableAccessKey,
    BlockBucketPublicAccess,
    StopInstance,
    TerminateInstance,
    Notify,
    RequestApproval,
    OpenIncident,
    AddTimelineEntry,
)


class Dispatch(Protocol):
    def register(self, name_or_prefix: str, handler: TaskInvoker) -> None: ...


def register_all(
    dispatch: Dispatch,
    settings: Settings,
    endpoint_url: str | None = None,
    *,
    incidents: IncidentSink | None = None,
    python_actions: PythonActions = DEFAULT_PYTHON_ACTIONS,
    sleep: Callable[[float], None] = time.sleep,
) -> AwsClients:
    """Register the aws-sdk, sns:publish and lambda:invoke integrations and every built-in action.

    Reads the `[respond.*]` settings now, so a bad one fails at start-up (ConfigError naming the key);
    `endpoint_url` points every AWS call at an AWS-compatible endpoint. Returns the shared AWS clients.
    """
    aws = AwsConfig.from_settings(settings, endpoint_url)
    clients = AwsClients(aws)
    env = ActionEnv(
        clients=clients, config=RespondConfig.from_settings(settings, aws), incidents=incidents, sleep=sleep
    )
    lambda_invoke = LambdaInvoke(clients, python_actions)
    dispatch.register(AWS_SDK_PREFIX, AwsSdkTask(clients))
    dispatch.register(SNS_PUBLISH, SnsPublish(clients))
    dispatch.register(LAMBDA_INVOKE, lambda_invoke)
    dispatch.register(LAMBDA_ARN_PREFIX, LambdaFunction(lambda_invoke))
    for action in ACTIONS:
        dispatch.register(ACTION_PREFIX + action.name, action(env))
    return clients
