"""lower_keys: every key lowercase at every depth, no leading @, no value lost, clean input untouched."""

from __future__ import annotations

from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins.lower_keys import LowerKeys, lower_dict


def cloudtrail_draft() -> dict:
    return {
        "source": "cloudtrail",
        "summary": "198.51.100.7 performed RunInstances in ec2.amazonaws.com",
        "tags": ["AWS"],
        "details": {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "arn": "arn:aws:iam::123456789012:user/bert-jan",
                "accessKeyId": "AKIAEXAMPLEKEY000001",
                "sessionContext": {"attributes": {"mfaAuthenticated": "false"}},
            },
            "eventName": "RunInstances",
            "sourceIPAddress": "198.51.100.7",
            "requestParameters": {
                "instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": 1}]},
                "tagSpecificationSet": {"items": [[{"Key": "Name", "Value": "Web"}]]},
            },
        },
    }


def test_every_key_is_lowercased_at_every_depth_and_values_are_kept():
    out = LowerKeys().apply(cloudtrail_draft())
    d = out["details"]
    assert d["eventversion"] == "1.08"
    assert d["useridentity"]["accesskeyid"] == "AKIAEXAMPLEKEY000001"
    assert d["useridentity"]["sessioncontext"]["attributes"] == {"mfaauthenticated": "false"}
    assert d["sourceipaddress"] == "198.51.100.7"
    assert d["requestparameters"]["instancesset"]["items"] == [{"imageid": "ami-0abc", "mincount": 1}]
    # a list inside a list of objects
    assert d["requestparameters"]["tagspecificationset"]["items"] == [[{"key": "Name", "value": "Web"}]]
    assert out["tags"] == ["AWS"]  # values keep their case

    def keys(o):
        if isinstance(o, dict):
            for k, v in o.items():
                yield k
                yield from keys(v)
        elif isinstance(o, list):
            for v in o:
                yield from keys(v)

    assert all(k == k.lower() for k in keys(out))


def test_leading_at_is_removed_and_top_level_keys_are_lowercased():
    out = LowerKeys().apply(
        {"@timestamp": "2020-09-14T01:19:40Z", "Source": "mozdef", "details": {"@Version": "1"}}
    )
    assert out == {"timestamp": "2020-09-14T01:19:40Z", "source": "mozdef", "details": {"version": "1"}}


def test_clean_input_is_returned_as_the_same_objects():
    details = {"program": "sshd", "sourceipaddress": "183.62.140.253", "list": [{"a": 1}, "x"]}
    draft = {"source": "syslog", "summary": "Failed password", "details": details}
    out = LowerKeys().apply(draft)
    assert out is draft
    assert out["details"] is details
    assert out["details"]["list"][0] is details["list"][0]


def test_the_draft_object_is_kept_even_when_keys_change():
    draft = cloudtrail_draft()
    assert LowerKeys().apply(draft) is draft


def test_colliding_keys_keep_both_values_and_the_lowercase_key_keeps_its_name():
    # S3 PutBucketTagging really carries both `Tagging` (the object) and `tagging` (an empty string).
    out = lower_dict(
        {"requestParameters": {"Tagging": {"TagSet": {"Tag": []}}, "tagging": "", "bucketName": "b"}}
    )
    params = out["requestparameters"]
    assert params["tagging"] == ""
    assert params["tagging_1"] == {"tagset": {"tag": []}}
    assert params["bucketname"] == "b"

    out = lower_dict({"tag": "first", "Tag": "second", "TAG": "third", "tag_1": "own"})
    assert out == {"tag": "first", "tag_1": "own", "tag_2": "second", "tag_3": "third"}


def test_non_string_keys_become_strings():
    assert lower_dict({1: "one", "A": {2.5: "x"}}) == {"1": "one", "a": {"2.5": "x"}}


def test_the_pipeline_records_lower_keys_and_keeps_the_plugins_list():
    draft = cloudtrail_draft()
    out = Pipeline([LowerKeys()]).run(draft)
    assert out["plugins"] == ["lower_keys"]
    assert "eventname" in out["details"] and "eventName" not in out["details"]
