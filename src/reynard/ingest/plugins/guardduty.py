"""guardduty: the house fields of a GuardDuty finding (summary, severity, who and what it is about).

Why: a finding nests what an analyst pivots on (the remote address, the instance, the access key, the
bucket) four levels deep, under keys that depend on the finding type, and scores severity as a number.
This plugin lifts them to flat `details` fields that rules and the console share with other sources.
Runs after lower_keys, so it reads `details.resource.instancedetails.instanceid`, ...

Fields it sets:

- `category` `guardduty`; `summary` `GuardDuty <type>: <title>`.
- `severity` from the numeric score, on GuardDuty's own bands: below 4 (Low) INFO, below 7 (Medium)
  WARNING, below 9 (High) ERROR, 9 and over (Critical) CRITICAL.
- `details.findingtype`; `details.resourcetype`, `instanceid`, `accesskeyid`, `username` (of the key),
  `bucketnames` (always a list).
- `details.sourceipaddress`: the remote party of the action (the first remote of a port probe, else
  of a network connection, an API call, a Kubernetes API call or an RDS login), whatever the direction:
  it is the address GuardDuty is concerned about. `details.destinationport`: the local port probed or
  connected to. `details.domain` for DNS request findings.
- `details.sample` True and the tag `sample` for GuardDuty's generated sample findings.
- tags `guardduty` and the threat purpose (the type's prefix: `Recon`, `UnauthorizedAccess`, ...).
"""

from __future__ import annotations

from typing import ClassVar

from reynard.events.event import severity_name
from reynard.settings import Settings

_REMOTE_ACTIONS = (
    "portprobeaction",
    "networkconnectionaction",
    "awsapicallaction",
    "kubernetesapicallaction",
    "rdsloginattemptaction",
)


def severity_for(score: object) -> str | None:
    """RFC 5424 name for a GuardDuty severity score (or a name such as HIGH); None when unusable."""
    if isinstance(score, bool):
        return None
    try:
        value = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return severity_name(score)
    if value != value:  # NaN
        return None
    if value < 4:
        return "INFO"
    if value < 7:
        return "WARNING"
    if value < 9:
        return "ERROR"
    return "CRITICAL"


def _dict(value: object) -> dict:
    return value if type(value) is dict else {}


def _remote(action: dict) -> tuple[object, object]:
    """(remote IP, local port) of the first action that names a remote party."""
    for key in _REMOTE_ACTIONS:
        act = action.get(key)
        if type(act) is not dict:
            continue
        if key == "portprobeaction":
            probes = act.get("portprobedetails")
            act = probes[0] if type(probes) is list and probes and type(probes[0]) is dict else {}
        remote = _dict(act.get("remoteipdetails"))
        ip = remote.get("ipaddressv4") or remote.get("ipaddressv6")
        if ip:
            return ip, _dict(act.get("localportdetails")).get("port")
    return None, None


class GuardDuty:
    """House fields for GuardDuty findings."""

    name: ClassVar[str] = "guardduty"
    priority: ClassVar[int] = 10

    def __init__(self, settings: Settings | None = None):
        pass

    def wants(self, draft: dict) -> bool:
        return draft.get("source") == "guardduty"

    def apply(self, draft: dict) -> dict:
        details = draft.get("details")
        if type(details) is not dict:
            return draft
        draft["category"] = "guardduty"
        tags = draft.get("tags")
        tags = draft["tags"] = list(tags) if isinstance(tags, list) else []

        finding_type = details.get("type")
        title = details.get("title")
        if isinstance(finding_type, str) and finding_type:
            details["findingtype"] = finding_type
            draft["summary"] = f"GuardDuty {finding_type}: {title}" if title else f"GuardDuty {finding_type}"
            purpose = finding_type.split(":", 1)[0]
            new_tags = ["guardduty", purpose] if purpose != finding_type else ["guardduty"]
        else:
            if title:
                draft["summary"] = f"GuardDuty: {title}"
            new_tags = ["guardduty"]

        level = severity_for(details.get("severity"))
        if level is not None:
            draft["severity"] = level

        resource = _dict(details.get("resource"))
        if resource.get("resourcetype"):
            details["resourcetype"] = resource["resourcetype"]
        instance_id = _dict(resource.get("instancedetails")).get("instanceid")
        if instance_id:
            details["instanceid"] = instance_id
        key = _dict(resource.get("accesskeydetails"))
        if key.get("accesskeyid"):
            details["accesskeyid"] = key["accesskeyid"]
        if key.get("username"):
            details["username"] = key["username"]
        buckets = resource.get("s3bucketdetails")
        if type(buckets) is list:
            names = [b["name"] for b in buckets if type(b) is dict and b.get("name")]
            if names:
                details["bucketnames"] = names

        service = _dict(details.get("service"))
        action = _dict(service.get("action"))
        ip, port = _remote(action)
        if ip:
            details["sourceipaddress"] = ip
        if port is not None:
            details["destinationport"] = port
        domain = _dict(action.get("dnsrequestaction")).get("domain")
        if domain:
            details["domain"] = domain
        sample = _dict(service.get("additionalinfo")).get("sample")
        if sample is True or (isinstance(sample, str) and sample.lower() == "true"):
            details["sample"] = True
            new_tags.append("sample")

        tags.extend(t for t in new_tags if t not in tags)
        return draft
