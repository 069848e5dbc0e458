"""Indicators found in real events (CloudTrail, GuardDuty, sshd, VPC flow) as the pipeline normalizes them."""

import pytest

from cases_support import sample_events
from reynard.cases.extraction import indicators_in
from reynard.cases.values import Indicator


@pytest.fixture(scope="module")
def events(shared_data, tmp_path_factory):
    return sample_events(shared_data, tmp_path_factory.mktemp("events"))


def found(event: dict) -> set[tuple[str, str]]:
    return {(i.kind, i.value) for i in indicators_in(event)}


BERT_JAN = {
    ("ip", "192.168.10.20"),
    ("principal", "arn:aws:iam::123837392027:user/bert-jan"),
    ("access_key", "AKIATFQR7NSC8Q4X20BJ"),
}


def test_cloudtrail_run_instances_gives_the_caller_and_the_new_instance(events):
    assert found(events["run_instances"]) == BERT_JAN | {("instance", "i-0dbc91f429e48eeed")}


def test_cloudtrail_create_access_key_gives_the_key_it_created(events):
    assert found(events["create_access_key"]) == BERT_JAN | {("access_key", "AKIATFQR7NSC3ZO6PKAZ")}


def test_cloudtrail_bucket_policy_gives_the_bucket_not_the_policy_text(events):
    # The policy's statements name principals and the bucket's ARNs: policy text, not indicators.
    event = events["put_bucket_policy"]
    bucket = event["details"]["requestparameters"]["bucketname"]
    assert bucket == "stratus-red-team-bdbp-lhfzvgcamn"
    assert "statement" in event["details"]["requestparameters"]["bucketpolicy"]
    assert found(event) == BERT_JAN | {("bucket", bucket)}


def test_guardduty_gives_the_remote_ip_and_the_instance_not_its_profile(events):
    # The instance profile's ARN (arn:aws:iam::...:instance-profile/...) is not a principal.
    # The finding lists two probing hosts.
    assert found(events["guardduty"]) == {
        ("ip", "221.132.75.236"),
        ("ip", "71.6.167.142"),
        ("instance", "i-036cb01d26bb09166"),
    }


def test_sshd_gives_the_source_ip_only(events):
    event = events["sshd"]
    assert event["details"]["username"]  # a local account name: not an indicator
    assert found(event) == {("ip", event["details"]["sourceipaddress"])}


def test_vpc_flow_gives_both_ends_and_the_instance(events):
    assert found(events["vpcflow"]) == {
        ("ip", "198.51.100.7"),
        ("ip", "10.0.0.128"),
        ("instance", "i-036cb01d26bb09166"),
    }


def test_an_assumed_role_gives_the_session_the_role_and_the_temporary_key():
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123837392027:assumed-role/stratus-red-team-ec2-steal-credentials-role/"
        "i-0dbc91f429e48eeed",
        "accesskeyid": "ASIATFQR7NSC36DZQP7P",
        "sessioncontext": {
            "sessionissuer": {
                "type": "Role",
                "arn": "arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role",
            }
        },
    }
    event = {
        "details": {
            "eventname": "DescribeInstances",
            "sourceipaddress": "ec2.amazonaws.com",
            "useridentity": identity,
        }
    }
    assert found(event) == {
        ("principal", identity["arn"]),
        ("principal", identity["sessioncontext"]["sessionissuer"]["arn"]),
        ("access_key", "ASIATFQR7NSC36DZQP7P"),
    }  # and no IP: a service name is not one


def test_each_indicator_once_in_the_order_found():
    event = {"details": {"sourceipaddress": "203.0.113.9", "x": [{"sourceipaddress": "203.0.113.9"}]}}
    assert indicators_in(event) == [Indicator("ip", "203.0.113.9")]
    assert indicators_in({"summary": "no details"}) == []
