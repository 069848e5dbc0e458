"""reynard:notify and reynard:request-approval through the alert notifiers, against real local servers (an
HTTP recorder for webhook and Slack, aiosmtpd for email) and SNS in moto; and the incident actions against
the in-memory IncidentSink (the cases package implements the same protocol at the merge)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from loopback import Recorder, recording
from respond_support import client, context, free_port, reset, reynard, settings
from reynard.respond.actions import register_all
from reynard.respond.dispatch import Dispatch
from reynard.respond.errors import StatesError


@pytest.fixture
def http() -> Iterator[Recorder]:
    with recording() as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[tuple[list[bytes], int]]:
    from aiosmtpd.controller import Controller

    messages: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:
            messages.append(envelope.original_content)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield messages, port
    controller.stop()


def test_notify_reaches_webhook_slack_sns_and_email(http: Recorder, aws: str, mailbox) -> None:
    reset(aws)
    messages, port = mailbox
    sns, sqs = client(aws, "sns"), client(aws, "sqs")
    topic = sns.create_topic(Name="oncall")["TopicArn"]
    queue = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ],
    )
    notifiers = {
        "hook": {"type": "webhook", "url": http.url("/hook")},
        "chat": {"type": "slack", "url": http.url("/slack")},
        "pager": {
            "type": "sns",
            "topic_arn": topic,
            "region": "us-east-1",
        },  # endpoint_url comes from respond.aws
        "mail": {
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "sender": "r@x.org",
            "recipients": ["soc@x.org"],
        },
    }
    tasks = reynard(aws, notifiers=notifiers)
    arguments = {
        "Summary": "Crypto mining on i-1: containment started",
        "Severity": "critical",
        "Details": {"InstanceId": "i-1"},
    }
    result = tasks.action("notify", arguments, context("NotifyTeam"))
    assert result["Verified"] and [d["Delivered"] for d in result["Deliveries"]] == [True] * 4
    assert result["MessageId"] == "exec-1:NotifyTeam"

    hook = next(b for b in http.bodies if "summary" in b)
    assert (
        hook["severity"] == "CRITICAL"
        and hook["details"] == {"InstanceId": "i-1"}
        and hook["id"] == "exec-1:NotifyTeam"
    )
    assert {"text": "[CRITICAL] Crypto mining on i-1: containment started"} in http.bodies
    (queued,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    assert json.loads(json.loads(queued["Body"])["Message"])["summary"] == arguments["Summary"]
    assert b"Crypto mining on i-1" in messages[0]


def test_any_or_all_destinations_must_accept(http: Recorder) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    notifiers = {
        "dead": {"type": "webhook", "url": dead, "timeout": 1},
        "live": {"type": "webhook", "url": http.url("/ok")},
    }
    tasks = reynard("http://127.0.0.1:1", notifiers=notifiers)
    some = tasks.action("notify", {"Summary": "s"})
    assert some["Verified"] and [d["Delivered"] for d in some["Deliveries"]] == [False, True]
    with pytest.raises(StatesError) as info:
        tasks.action("notify", {"Summary": "s", "Require": "all"})
    assert info.value.error == "Reynard.NotifyFailed" and "dead: POST" in info.value.cause
    with pytest.raises(StatesError) as info:
        tasks.action("notify", {"Summary": "s", "Destinations": ["dead"]})
    assert info.value.error == "Reynard.NotifyFailed"


def test_a_dry_run_sends_nothing_and_destinations_are_checked_by_name(http: Recorder) -> None:
    tasks = reynard("http://127.0.0.1:1", notifiers={"hook": {"type": "webhook", "url": http.url("/hook")}})
    planned = tasks.action("notify", {"Summary": "s"}, context(dry_run=True))
    assert planned["Changes"][0]["Resource"] == "hook" and not planned["Verified"] and http.bodies == []
    with pytest.raises(StatesError) as info:
        tasks.action("notify", {"Summary": "s", "Destinations": ["pagerduty"]})
    assert (
        info.value.error == "Reynard.InvalidArguments"
        and "unknown destination(s) pagerduty; known: hook" in info.value.cause
    )
    with pytest.raises(StatesError) as info:
        reynard("http://127.0.0.1:1").action("notify", {"Summary": "s"})
    assert info.value.error == "Reynard.NotConfigured"


def test_request_approval_sends_the_token_and_the_answer_but_never_returns_the_token(http: Recorder) -> None:
    tasks = reynard("http://127.0.0.1:1", notifiers={"chat": {"type": "slack", "url": http.url("/slack")}})
    with pytest.raises(StatesError) as info:
        tasks.action("request-approval", {"Summary": "Stop or terminate i-1?"})
    assert info.value.error == "Reynard.InvalidArguments" and ".waitForTaskToken" in info.value.cause
    token = "tok-4f1e-secret"
    result = tasks.action(
        "request-approval", {"Summary": "Stop or terminate i-1?"}, context("Approve", task_token=token)
    )
    (sent,) = http.bodies
    assert f'reynard playbook approve {token} --output \'{{"Decision": "stop"}}\'' in sent["text"]
    assert f"reynard playbook reject {token}" in sent["text"] and "(stop / terminate)" in sent["text"]
    assert result["ApprovalRequested"] and result["Options"] == ["stop", "terminate"]
    assert token not in json.dumps(result)


def test_open_incident_is_idempotent_on_its_key_and_the_timeline_on_the_state() -> None:
    tasks = reynard("http://127.0.0.1:1")
    opened = tasks.action(
        "open-incident", {"Key": "finding-1", "Title": "Crypto mining on i-1", "Severity": "critical"}
    )
    assert opened["Created"] and opened["Verified"] and opened["IncidentId"] == "incident-1"
    again = tasks.action("open-incident", {"Key": "finding-1", "Title": "Crypto mining on i-1 (repeated)"})
    assert (
        not again["Created"]
        and again["IncidentId"] == "incident-1"
        and again["Changes"][0]["Change"] == "update incident"
    )
    entry = {"IncidentId": "incident-1", "Text": "Isolated i-1", "Details": {"groups": ["sg-1"]}}
    added = tasks.action("add-timeline-entry", entry, context("TimelineIsolated"))
    repeat = tasks.action("add-timeline-entry", entry, context("TimelineIsolated"))
    assert added["Changed"] and repeat["AlreadyDone"] and repeat["Verified"]
    (recorded,) = tasks.incidents.read("incident-1").entries
    assert recorded.key == "exec-1:TimelineIsolated" and recorded.details["groups"] == ["sg-1"]
    with pytest.raises(StatesError) as info:
        tasks.action("add-timeline-entry", {**entry, "IncidentId": "incident-9"})
    assert info.value.error == "Reynard.PreconditionFailed"


def test_incident_actions_without_a_store_say_so() -> None:
    table = Dispatch()
    register_all(table, settings())  # no incidents= : the merge wires reynard.cases here
    with pytest.raises(StatesError) as info:
        table.invoke("reynard:open-incident", {"Key": "k", "Title": "t"}, context())
    assert info.value.error == "Reynard.NotConfigured" and "no incident store" in info.value.cause


def test_a_topic_named_in_the_playbook_is_a_destination_of_its_own(aws: str) -> None:
    """`TopicArn` is what an export to Step Functions keeps, so it works with no notifier configured."""
    reset(aws)
    sns, sqs = client(aws, "sns"), client(aws, "sqs")
    topic = sns.create_topic(Name="playbook")["TopicArn"]
    queue = sqs.create_queue(QueueName="playbook")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    result = reynard(aws).action("notify", {"Summary": "isolated i-1", "TopicArn": topic})
    assert result["Verified"] and [d["Destination"] for d in result["Deliveries"]] == [topic]
    (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"])["summary"] == "isolated i-1"
