"""Notifiers against real servers on loopback: an HTTP server, an SMTP server (aiosmtpd) and SNS in moto."""

from __future__ import annotations

import inspect
import json
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from functools import partial
from typing import Any

import pytest

from loopback import Recorder, recording
from reynard.detect.notifiers import (
    CONSTRUCTORS,
    Delivery,
    DeliveryError,
    EmailNotifier,
    Secret,
    SnsNotifier,
    WebhookNotifier,
    build_notifier,
    deliver,
    notify_all,
)
from reynard.errors import ConfigError
from reynard.settings import IN_CODE, NotifierSpec
from reynard.settings.sections import NOTIFIER_TYPES

ALERT = {
    "id": "a-1",
    "rule": "ssh_bruteforce",
    "utctimestamp": "2026-11-28T10:00:00+00:00",
    "severity": "WARNING",
    "summary": "10 failed ssh logins from 10.0.0.5",
    "category": "bruteforce",
    "tags": ["ssh", "bruteforce"],
    "channel": None,
    "notify_mozdefbot": True,
    "classname": "AlertSSHBruteforce",
    "events": [{"documentid": "ev-1"}, {"documentid": "ev-2"}],
    "url": "https://reynard.example/alerts/a-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def no_sleep(calls: list[float]):
    return calls.append


# -- HTTP -------------------------------------------------------------------------------------------------


@pytest.fixture
def http() -> Iterator[Recorder]:
    with recording() as server:
        yield server


def test_webhook_json_posts_the_alert(http: Recorder) -> None:
    notifier = WebhookNotifier(http.url(), headers={"Authorization": "Bearer s3cret-token"})
    record = deliver(notifier, ALERT)
    assert record.ok and record.attempts == 1 and record.error is None
    assert (record.alert_id, record.classname) == ("a-1", "AlertSSHBruteforce")
    assert record.started <= record.finished
    path, headers, body = http.requests[0]
    assert path == "/hook"
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer s3cret-token"
    assert json.loads(body) == ALERT
    assert "s3cret-token" not in repr(notifier)


def test_webhook_slack_body(http: Recorder) -> None:
    alert = {**ALERT, "summary": "login from <script> & co"}
    assert deliver(WebhookNotifier(http.url(), format="slack"), alert).ok
    body = json.loads(http.requests[0][2])
    assert body == {
        "text": "[WARNING] login from &lt;script&gt; &amp; co <https://reynard.example/alerts/a-1|details>"
    }
    assert deliver(WebhookNotifier(http.url(), format="slack"), {"severity": "INFO", "summary": "x"}).ok
    assert json.loads(http.requests[1][2]) == {"text": "[INFO] x"}


def test_retries_succeed_after_two_500s(http: Recorder) -> None:
    http.fail_first = 2
    waits: list[float] = []
    record = deliver(WebhookNotifier(http.url()), ALERT, retries=3, backoff=0.5, sleep=no_sleep(waits))
    assert record.ok and record.attempts == 3 and record.error is None
    assert waits == [0.5, 1.0]
    assert len(http.requests) == 3


def test_gives_up_after_the_retries_with_the_last_error(http: Recorder) -> None:
    http.fail_first = 100
    waits: list[float] = []
    record = deliver(WebhookNotifier(http.url()), ALERT, retries=2, backoff=1, sleep=no_sleep(waits))
    assert not record.ok and record.attempts == 3 and waits == [1, 2]
    assert record.error == f"POST {http.url()}: answered HTTP 500: 'boom'"


def test_timeout_is_reported_naming_the_url_and_takes_bounded_time(http: Recorder) -> None:
    http.delay = 5
    waits: list[float] = []
    began = time.monotonic()
    record = deliver(WebhookNotifier(http.url(), timeout=0.2), ALERT, retries=2, sleep=no_sleep(waits))
    assert time.monotonic() - began < 3
    assert not record.ok and record.attempts == 3 and len(waits) == 2
    assert http.url() in record.error and "timed out" in record.error


def test_a_4xx_answer_is_not_retried(http: Recorder) -> None:
    http.status = 404
    record = deliver(WebhookNotifier(http.url("/gone")), ALERT, sleep=no_sleep([]))
    assert not record.ok and record.attempts == 1 and "HTTP 404" in record.error
    assert len(http.requests) == 1


def test_one_failing_notifier_does_not_stop_the_others(http: Recorder) -> None:
    dead = WebhookNotifier(f"http://127.0.0.1:{free_port()}/nothing-listens")
    records = notify_all([dead, WebhookNotifier(http.url())], ALERT, retries=1, sleep=no_sleep([]))
    assert [r.ok for r in records] == [False, True]
    assert records[0].attempts == 2 and "request failed: ConnectError" in records[0].error
    assert all(isinstance(r, Delivery) for r in records)


def test_a_notifier_bug_is_recorded_not_raised() -> None:
    class Broken:
        name = "broken"

        def send(self, alert) -> None:
            raise KeyError("summary")

    record = deliver(Broken(), ALERT, sleep=no_sleep([]))
    assert not record.ok and record.attempts == 1 and record.error == "broken: unexpected KeyError: 'summary'"


def test_secret_tokens_in_webhook_urls_are_redacted() -> None:
    url = "https://user:pw@hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX?x=1"
    notifier = WebhookNotifier(url, format="slack")
    assert notifier.name == "slack https://hooks.slack.com/services/T0001/B0001/***"
    assert "XXXXXXXX" not in repr(notifier) and "pw" not in repr(notifier)


# -- SMTP -------------------------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    # handled=False: aiosmtpd then answers 535 itself (its default, True, leaves the client waiting).
    ok = (auth_data.login, auth_data.password) == (b"alerts", b"hunter2-pass")
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield mailbox, port
    controller.stop()


def test_email_is_received_with_headers_and_body(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    notifier = EmailNotifier(
        "127.0.0.1", port, "reynard@example.org", ["soc@example.org", "oncall@example.org"],
        username="alerts", password="hunter2-pass",
    )  # fmt: skip
    record = deliver(notifier, ALERT)
    assert record.ok, record.error
    mail_from, rcpt_tos, raw = mailbox.messages[0]
    assert mail_from == "reynard@example.org"
    assert rcpt_tos == ["soc@example.org", "oncall@example.org"]
    message = message_from_bytes(raw)
    assert message["Subject"] == "[Reynard] [WARNING] 10 failed ssh logins from 10.0.0.5"
    assert message["To"] == "soc@example.org, oncall@example.org"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "summary: 10 failed ssh logins from 10.0.0.5\n" in body
    assert "classname: AlertSSHBruteforce\n" in body
    assert "events (2):\n  ev-1\n  ev-2\n" in body
    assert "hunter2" not in repr(notifier) and "hunter2" not in str(notifier.password)


def test_email_wrong_password_is_not_retried_and_not_shown(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    notifier = EmailNotifier(
        "127.0.0.1", port, "r@example.org", ["soc@example.org"], "alerts", "wrong-pw-xyz"
    )
    record = deliver(notifier, ALERT, sleep=no_sleep([]))
    assert not record.ok and record.attempts == 1 and mailbox.messages == []
    assert record.error.startswith(f"SMTP 127.0.0.1:{port}: login as 'alerts' refused: 535")
    assert "wrong-pw-xyz" not in record.error and "wrong-pw-xyz" not in repr(notifier)


def test_email_header_injection_is_flattened(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    alert = {**ALERT, "summary": "line one\r\nBcc: evil@example.org"}
    assert deliver(EmailNotifier("127.0.0.1", port, "r@example.org", ["soc@example.org"]), alert).ok
    message = message_from_bytes(mailbox.messages[0][2])
    assert message["Bcc"] is None
    assert message["Subject"] == "[Reynard] [WARNING] line one Bcc: evil@example.org"


def test_email_to_a_closed_port_fails_with_the_address() -> None:
    port = free_port()
    record = deliver(
        EmailNotifier("127.0.0.1", port, "r@x.org", ["s@x.org"], timeout=1), ALERT, 1, 0, no_sleep([])
    )
    assert not record.ok and record.attempts == 2
    assert record.error.startswith(f"SMTP 127.0.0.1:{port}: ConnectionRefusedError")


def test_email_to_a_server_that_never_greets_times_out() -> None:
    with socket.socket() as listener:  # listening, never accepting: the connection opens, no banner comes
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        waits: list[float] = []
        began = time.monotonic()
        notifier = EmailNotifier("127.0.0.1", port, "r@x.org", ["s@x.org"], timeout=0.2)
        record = deliver(notifier, ALERT, retries=2, sleep=no_sleep(waits))
    assert time.monotonic() - began < 3
    assert not record.ok and record.attempts == 3 and waits == [0.5, 1.0]
    assert record.error == f"SMTP 127.0.0.1:{port}: timed out after 0.2s"


def test_email_starttls_against_a_server_without_it_is_not_retried(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    notifier = EmailNotifier("127.0.0.1", port, "r@x.org", ["s@x.org"], starttls=True)
    record = deliver(notifier, ALERT, sleep=no_sleep([]))
    assert not record.ok and record.attempts == 1 and mailbox.messages == []
    assert record.error.startswith(f"SMTP 127.0.0.1:{port}: not supported by the server: STARTTLS")


def test_secret_hides_its_value() -> None:
    secret = Secret("p@ss")
    assert "p@ss" not in repr(secret) and "p@ss" not in str(secret) and "p@ss" not in f"{secret}"
    assert secret.reveal() == "p@ss" and secret == Secret("p@ss")


# -- SNS (moto server) --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            mp.setenv(key, value)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


@pytest.fixture
def topic(aws: str) -> tuple[str, object]:
    import boto3

    sns = boto3.client("sns", region_name="us-east-1", endpoint_url=aws)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=aws)
    topic_arn = sns.create_topic(Name="reynard-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="reynard-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])


def test_sns_message_is_read_back_from_sqs(aws: str, topic) -> None:
    topic_arn, receive = topic
    alert = {**ALERT, "summary": "Zürich login " + "x" * 200}
    record = deliver(SnsNotifier(topic_arn, "us-east-1", endpoint_url=aws), alert)
    assert record.ok, record.error
    assert record.notifier == f"sns {topic_arn}"
    (message,) = receive()
    envelope = json.loads(message["Body"])
    assert json.loads(envelope["Message"]) == alert
    subject = envelope["Subject"]
    assert len(subject) == 100 and subject.isascii()
    assert subject.startswith("Reynard [WARNING] Z?rich login xxx")


def test_sns_unknown_topic_is_refused_without_retrying(aws: str) -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    record = deliver(SnsNotifier(arn, "us-east-1", endpoint_url=aws), ALERT, sleep=no_sleep([]))
    assert not record.ok and record.attempts == 1
    assert record.error.startswith(f"SNS publish to {arn}: refused: NotFound")


def test_sns_unreachable_endpoint_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{free_port()}"
    notifier = SnsNotifier(
        "arn:aws:sns:us-east-1:123456789012:t", "us-east-1", endpoint_url=endpoint, timeout=1
    )
    record = deliver(notifier, ALERT, retries=1, sleep=no_sleep([]))
    assert not record.ok and record.attempts == 2
    assert "EndpointConnectionError" in record.error and endpoint in record.error


# -- build_notifier --------------------------------------------------------------------------------------
# The keys, types and values of a notifier's settings are checked by load_settings (tests/test_settings.py);
# build_notifier makes the notifier of a checked entry.


def spec(**table: Any) -> NotifierSpec:
    return NotifierSpec.parse(table, IN_CODE.at("notifiers", 0))


def test_build_notifier_from_settings() -> None:
    slack = build_notifier(spec(type="slack", url="https://hooks.slack.com/services/T/B/abc"))
    assert isinstance(slack, WebhookNotifier) and slack.format == "slack"
    hook = build_notifier(spec(type="webhook", url="http://127.0.0.1/x", timeout=2, headers={"a": "b"}))
    assert isinstance(hook, WebhookNotifier) and hook.format == "json" and hook.timeout == 2
    assert hook._headers == {"a": "b"}
    mail = build_notifier(
        spec(type="email", host="h", port=25, sender="a@x", recipients="b@x", password="pw-123")
    )
    assert isinstance(mail, EmailNotifier) and mail.recipients == ("b@x",) and "pw-123" not in repr(mail)
    assert mail.password is not None and mail.password.reveal() == "pw-123"
    sns = build_notifier(spec(type="sns", topic_arn="arn:aws:sns:us-east-1:1:t", region="us-east-1"))
    assert isinstance(sns, SnsNotifier)


def test_every_key_the_settings_accept_is_a_parameter_of_its_notifier() -> None:
    assert set(CONSTRUCTORS) == set(NOTIFIER_TYPES)
    for kind, keys in NOTIFIER_TYPES.items():
        constructor = CONSTRUCTORS[kind]
        target = constructor.func if isinstance(constructor, partial) else constructor
        parameters = inspect.signature(target).parameters
        assert set(keys) <= set(parameters), kind
        required = {name for name, p in parameters.items() if p.default is inspect.Parameter.empty}
        given = set(getattr(constructor, "keywords", {}))
        assert {name for name, key in keys.items() if key.required} == required - {"self"} - given, kind


def test_a_notifier_that_cannot_be_made_is_a_config_error_at_its_entry() -> None:
    # Built in code, unchecked: the notifier's own refusal still names the entry.
    with pytest.raises(ConfigError) as info:
        build_notifier(NotifierSpec("webhook", {"url": "ftp://x"}, IN_CODE.at("notifiers", 3)))
    assert str(info.value).startswith("settings: notifiers[3] (type webhook): webhook url must start with")


def test_delivery_error_is_a_reynard_error() -> None:
    error = DeliveryError("timed out", where="POST http://h/x", retryable=True)
    assert str(error) == "POST http://h/x: timed out" and error.retryable
