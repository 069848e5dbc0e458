"""The native shapes of the logs a scenario plays: a CloudTrail record, a VPC flow log line (version 2), an
RFC 3164 syslog line, a GuardDuty finding in its EventBridge event; and `Played`, one of them with its time.

Only shapes here (no choices): the background and the steps decide what happens, these write it as AWS
and sshd would, so Reynard's own parsers read the output as they read the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reynard.events.timestamps import zulu

SOURCES = ("cloudtrail", "vpcflow", "syslog", "guardduty")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FLOW_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
    "action log-status"
)
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}


@dataclass(frozen=True)
class Played:
    """One native record and when it happened; `step` names the scenario step that made it
    (`attack[2]`, `lookalikes[0]`), None for the background."""

    moment: datetime
    source: str  # one of SOURCES
    record: Any  # a dict (cloudtrail, guardduty) or a line (vpcflow, syslog)
    step: str | None = None


def cloudtrail_record(
    *,
    moment: datetime,
    identity: dict,
    address: str,
    user_agent: str,
    name: str,
    source: str,
    region: str,
    account: str,
    request_id: str,
    event_id: str,
    request: dict | None = None,
    response: dict | None = None,
    read_only: bool = False,
    data_event: bool = False,
    event_type: str = "AwsApiCall",
    resources: list[dict] | None = None,
    additional: dict | None = None,
    error: tuple[str, str] | None = None,
) -> dict:
    """A CloudTrail record, its keys in CloudTrail's order (eventVersion 1.09)."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": zulu(moment, "seconds"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": address,
        "userAgent": user_agent,
    }
    if error:
        record["errorCode"], record["errorMessage"] = error
    record["requestParameters"] = request
    record["responseElements"] = response
    if additional:
        record["additionalEventData"] = additional
    record["requestID"] = request_id
    record["eventID"] = event_id
    record["readOnly"] = read_only
    if resources:
        record["resources"] = resources
    record["eventType"] = event_type
    record["managementEvent"] = not data_event
    record["recipientAccountId"] = account
    record["eventCategory"] = "Data" if data_event else "Management"
    if address[:1].isdigit() and event_type == "AwsApiCall":
        record["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        }
    return record


def flow_line(
    *,
    account: str,
    eni: str,
    src: str,
    dst: str,
    src_port: int,
    dst_port: int,
    protocol: int,
    packets: int,
    size: int,
    start: int,
    end: int,
    action: str,
) -> str:
    """A VPC flow log record in the default (version 2) format."""
    return (
        f"2 {account} {eni} {src} {dst} {src_port} {dst_port} {protocol} {packets} {size} {start} {end} "
        f"{action} OK"
    )


def syslog_line(moment: datetime, host: str, program: str, pid: int, message: str) -> str:
    """An RFC 3164 line as /var/log/secure holds it (no PRI, no year, UTC)."""
    stamp = f"{_MONTHS[moment.month - 1]} {moment.day:>2} {moment:%H:%M:%S}"
    return f"{stamp} {host} {program}[{pid}]: {message}"


def host_name(private_ip: str) -> str:
    """The host name EC2 gives an instance (`ip-10-0-0-12`): what its syslog lines carry."""
    return "ip-" + private_ip.replace(".", "-")


def guardduty_event(finding: dict, event_id: str) -> dict:
    """The EventBridge event that delivers a GuardDuty finding."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": finding["accountId"],
        "time": finding["updatedAt"],
        "region": finding["region"],
        "resources": [],
        "detail": finding,
    }


__all__ = [
    "FLOW_HEADER",
    "PROTOCOLS",
    "SOURCES",
    "Played",
    "cloudtrail_record",
    "flow_line",
    "guardduty_event",
    "host_name",
    "syslog_line",
]
