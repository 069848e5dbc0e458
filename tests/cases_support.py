"""Shared by the cases tests (no tests here): real events from ../shared/data through the real
pipeline into a real TantivyEventStore, and alerts on them in AlertStore, as detection leaves them.

Sources: invictus-ir/aws_dataset CloudTrail (MIT), Netflix security_monkey's GuardDuty finding
(Apache-2.0), logpai/loghub OpenSSH (loghub license); VPC flow lines in AWS's documented v2 format."""

from datetime import UTC, datetime
from pathlib import Path

from reynard.detect.alerts import AlertStore
from reynard.detect.replay import load_events
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.tantivy.store import TantivyEventStore

INVICTUS = "cloudtrail/invictus/CloudTrail/218007301253_CloudTrail_us-east-1_20230710T"
CLOUDTRAIL_FILES = (
    INVICTUS + "1200Z_x9kHmzMa7cx6l9wM.json",  # RunInstances
    INVICTUS + "1230Z_ZtUNbBkwAu98FPZb.json",  # CreateAccessKey
    INVICTUS + "1205Z_zs3JGxETHr59VpkX.json",  # PutBucketPolicy
)
GUARDDUTY_FILE = "guardduty/guardduty_portprobe_ssh_event.json"
VPC_FLOW_LINES = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
    "action log-status instance-id\n"
    "2 123456789010 eni-1235b8ca123456789 198.51.100.7 10.0.0.128 44332 22 6 20 4249 1418530010 "
    "1418530070 ACCEPT OK i-036cb01d26bb09166\n"
)


def normalized(paths: list[Path]) -> list[dict]:
    """The events of `paths` as `reynard ingest` makes them (ids included)."""
    events, rejected = load_events(Settings(), [str(p) for p in paths], datetime.now(UTC))
    assert not rejected, rejected
    return events


def by_name(events: list[dict], name: str) -> dict:
    return next(e for e in events if e["details"].get("eventname") == name and e["details"]["success"])


def sample_events(shared_data: Path, tmp: Path) -> dict[str, dict]:
    """One real event of each kind the escalation tests use, by a short name."""
    cloudtrail = normalized([shared_data / f for f in CLOUDTRAIL_FILES])
    guardduty = normalized([shared_data / GUARDDUTY_FILE])
    ssh_lines = [
        line
        for line in (shared_data / "sshd/loghub/OpenSSH_2k.log").read_text().splitlines()
        if "Failed password" in line
    ][:2]
    ssh_file = tmp / "sshd.log"
    ssh_file.write_text("\n".join(ssh_lines) + "\n")
    flow_file = tmp / "flow.log"
    flow_file.write_text(VPC_FLOW_LINES)
    return {
        "run_instances": by_name(cloudtrail, "RunInstances"),
        "create_access_key": by_name(cloudtrail, "CreateAccessKey"),
        "put_bucket_policy": by_name(cloudtrail, "PutBucketPolicy"),
        "guardduty": guardduty[0],
        "sshd": normalized([ssh_file])[0],
        "vpcflow": normalized([flow_file])[0],
    }


def stored_world(shared_data: Path, data_dir: Path) -> tuple[Settings, dict[str, dict], AlertStore]:
    """A data directory with the sample events stored and two alerts on them:
    alert 1 (GuardDuty finding: the probed instance) and alert 2 (the CloudTrail calls that followed)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings().with_overrides(data_dir=data_dir)
    events = sample_events(shared_data, data_dir)
    writer = TantivyEventStore(settings.events_dir, writable=True, heap_bytes=15_000_000)
    writer.write(list(events.values()), commit=True)
    writer.close()
    alerts = AlertStore(open_state(settings.state_url))
    gd = events["guardduty"]
    alerts.add(
        {
            "summary": gd["summary"],
            "category": "guardduty",
            "severity": "WARNING",
            "tags": ["guardduty", "attack.t1046"],
            "events": [{"documentid": gd["id"], "documentsource": gd}],
        },
        rule="guardduty_finding",
        event_ids=[gd["id"], events["vpcflow"]["id"]],
    )
    calls = [events["run_instances"], events["create_access_key"], events["put_bucket_policy"]]
    alerts.add(
        {
            "summary": "bert-jan created an access key for another user",
            "category": "AWSCloudtrail",
            "severity": "CRITICAL",
            "tags": ["cloudtrail", "T1098.001"],
            "events": [{"documentid": e["id"]} for e in calls],
        },
        rule="access_key_created",
    )
    return settings, events, alerts
