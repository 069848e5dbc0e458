"""Indicators in a normalized event: the IPs, principals, access keys, instances, buckets and domains
an attacker used or touched, for escalation to bring into the incident.

Looked for by key name anywhere under `details` (the sources keep their own nesting: CloudTrail's
`useridentity.arn`, `requestparameters.bucketname`, `responseelements.instancesset.items[].instanceid`,
GuardDuty's `resource.accesskeydetails.accesskeyid`, the ingest plugins' `details.instanceid`), and each
value kept only when it is one (a CloudTrail `sourceipaddress` of `cloudtrail.amazonaws.com` is not an
IP; an `arn` of a bucket is not a principal). sshd events give their source IP; their user names are
local accounts, not AWS principals, and are left out.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from reynard.cases.errors import InvalidValue
from reynard.cases.values import Indicator, indicator

# details key → indicator kind. Keys are lowercase (the pipeline lowercases every details key).
KEYS = {
    "sourceipaddress": "ip",
    "destinationipaddress": "ip",
    "ipaddressv4": "ip",  # GuardDuty remoteIpDetails
    "arn": "principal",  # useridentity.arn, sessioncontext.sessionissuer.arn (others fail the check)
    "accesskeyid": "access_key",
    "instanceid": "instance",
    "bucketname": "bucket",
    "bucketnames": "bucket",  # the GuardDuty plugin's list
    "domain": "domain",
}
# GuardDuty's S3 resource list keeps each bucket's name as `name`.
PARENT_KEYS = {("s3bucketdetails", "name"): "bucket"}
MAX_DEPTH = 12
# Sub-trees that describe policy text or the instance's own network, not the actor: left alone.
SKIPPED = frozenset({"bucketpolicy", "policy", "policydocument", "assumerolepolicydocument"})


def indicators_in(event: dict) -> list[Indicator]:
    """The indicators of one event, each once, in the order found."""
    found: dict[Indicator, None] = {}
    details = event.get("details")
    if isinstance(details, dict):
        _walk(details, None, 0, found)
    return list(found)


def _walk(value: Any, parent: str | None, depth: int, found: dict[Indicator, None]) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value:
            _walk(item, parent, depth + 1, found)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key in SKIPPED:
            continue
        kind = PARENT_KEYS.get((parent or "", key)) or KEYS.get(key)
        if kind is not None:
            for text in item if isinstance(item, list) else [item]:
                _keep(kind, text, found)
        if isinstance(item, dict | list):
            _walk(item, key, depth + 1, found)


def _keep(kind: str, value: Any, found: dict[Indicator, None]) -> None:
    if not isinstance(value, str) or not value:
        return
    # A value of that name may not be one (a service name as sourceipaddress): not an indicator then.
    with suppress(InvalidValue):
        found[indicator(kind, value)] = None
