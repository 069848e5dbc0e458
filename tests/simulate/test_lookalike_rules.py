"""The two rule keys the workshop's look-alikes need, on events through the real ingest path:
`principal_multiple_ips.internal_cidrs` (addresses inside count as one place) and
`s3_bucket_public.public_buckets` (opening a bucket public on purpose for reading is quiet; for writing,
it is not). Both default to the rules' old behaviour."""

from detect_support import (
    ALICE,
    INVICTUS_NOW,
    STOLEN_ROLE,
    api_call,
    cloudtrail,
    create_bucket,
    host,
    ingest_files,
    policy,
    put_acl_canned,
    put_acl_grant,
    put_policy,
    run,
    s3_call,
)

OURS = ["10.0.0.0/8", "198.51.100.0/28"]
GLOBAL = "http://acs.amazonaws.com/groups/global/"


def test_two_desks_are_one_place_inside_and_outside_are_two():
    desks = cloudtrail(api_call(ALICE, "10.20.1.15", 20), api_call(ALICE, "10.20.7.33", 10))
    assert len(run("principal_multiple_ips", desks)) == 1  # the default: every address counts
    assert run("principal_multiple_ips", desks, config={"internal_cidrs": OURS}) == []
    vpn_and_office = cloudtrail(api_call(ALICE, "10.20.1.15", 20), api_call(ALICE, "198.51.100.5", 12))
    assert run("principal_multiple_ips", vpn_and_office, config={"internal_cidrs": OURS}) == []
    leaked = desks + cloudtrail(api_call(ALICE, "203.0.113.66", 5))
    (alert,) = run("principal_multiple_ips", leaked, config={"internal_cidrs": OURS})
    assert alert["summary"].startswith(
        f"{ALICE} called the AWS API from 3 addresses: 10.20.1.15, 10.20.7.33, 203.0.113.66"
    )
    assert run("principal_multiple_ips", leaked, config={"internal_cidrs": OURS, "min_ips": 3}) == []


def test_the_stolen_role_still_alerts_when_internal_addresses_are_one_place(shared_data):
    invictus = ingest_files(
        list((shared_data / "cloudtrail/invictus/CloudTrail").glob("*.json")),
        "cloudtrail",
        received="2023-07-10T12:38:00+00:00",
    )
    plain = {a["summary"].split(" ")[0] for a in run("principal_multiple_ips", invictus, now=INVICTUS_NOW)}
    assert len(plain) == 3  # the stolen role, and two console users at several internal addresses
    config = {"internal_cidrs": ["192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12"]}
    told = run("principal_multiple_ips", invictus, now=INVICTUS_NOW, config=config)
    assert [a["summary"].split(" ")[0] for a in told] == [STOLEN_ROLE]  # 192.168.10.20 and 3.225.16.109


def test_a_bucket_public_on_purpose_may_be_opened_for_reading_only():
    config = {"public_buckets": ["acme-public-*"]}
    reading = cloudtrail(
        put_policy("acme-public-site", policy("acme-public-site", "*")),
        put_acl_canned("acme-public-docs", "public-read"),
        put_acl_grant("acme-public-media", GLOBAL + "AllUsers"),  # READ to all (and the owner's FULL_CONTROL)
    )
    assert len(run("s3_bucket_public", reading)) == 3
    assert run("s3_bucket_public", reading, config=config) == []
    writing = cloudtrail(
        put_acl_canned("acme-public-site", "public-read-write", minutes_ago=4),
        put_policy(
            "acme-public-docs",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": "arn:aws:s3:::acme-public-docs/*",
                    }
                ]
            },
        ),
        s3_call(
            "PutBucketAcl",
            {
                **host("acme-public-media"),
                "AccessControlPolicy": {
                    "AccessControlList": {
                        "Grant": {"Grantee": {"URI": GLOBAL + "AllUsers"}, "Permission": "WRITE"}
                    }
                },
            },
            minutes_ago=3,
        ),
        put_acl_canned("acme-data", "public-read", minutes_ago=2),  # not public on purpose
    )
    alerts = run("s3_bucket_public", writing, config=config)
    buckets = sorted(a["summary"].split(" on bucket ")[1].split(" ")[0] for a in alerts)
    assert buckets == ["acme-data", "acme-public-docs", "acme-public-media", "acme-public-site"]


def test_a_new_public_bucket_is_still_critical():
    events = cloudtrail(create_bucket("acme-db-export"), put_acl_canned("acme-db-export", "public-read"))
    (alert,) = run("s3_bucket_public", events, config={"public_buckets": ["acme-public-site"]})
    assert alert["severity"] == "CRITICAL"
