"""Scenario files for the simulate tests: the shipped workshop changed in one place, and a small scenario."""

import copy
from pathlib import Path

import yaml

from reynard.simulate.scenario import SHIPPED

WORKSHOP = yaml.safe_load((SHIPPED / "workshop.yaml").read_text())

# An hour on a small estate: one of each step kind that alerts, quick to play and to check.
SMALL = {
    "name": "small",
    "title": "One hour, one of each",
    "seed": 7,
    "start": "2026-12-02T10:00:00Z",
    "duration": "1h",
    "environment": {
        "vpn_cidrs": ["198.51.100.0/28"],
        "services": [
            {"name": "web", "production": True, "role": "web-app", "instances": 2, "public_ports": [443]},
            {"name": "bastion", "role": "bastion-host", "vpn_ports": [22]},
        ],
        "buckets": [{"name": "small-assets"}, {"name": "small-site", "public": True}],
        "users": [
            {"name": "erin", "addresses": ["10.9.0.5", "10.9.4.4"]},
            {"name": "finn", "addresses": ["198.51.100.3"]},
        ],
    },
    "background": {
        "api_calls": [
            {"users": ["erin", "finn"], "per_hour": 20, "calls": {"DescribeInstances": 2, "GetObject": 3}},
            {"role": "web-app", "per_hour": 20, "calls": {"GetObject": 4, "UpdateInstanceInformation": 2}},
        ],
        "flows": [
            {"from": "internet", "to": "web", "port": 443, "per_hour": 200},
            {"from": "internet", "to": "bastion", "ports": [22, 3389], "per_hour": 30},
        ],
        "ssh": [
            {"users": ["erin", "finn"], "to": "bastion", "per_hour": 2, "stay": "10m", "onward": ["web"]}
        ],
    },
    "attack": [
        {"at": "10m", "kind": "api_calls", "user": "erin", "calls": ["GetCallerIdentity", "ListBuckets"]},
        {"at": "20m", "kind": "api_calls", "user": "erin", "from": "203.0.113.9", "calls": ["ListBuckets"]},
        {
            "at": "21m",
            "kind": "port_opened",
            "user": "erin",
            "from": "203.0.113.9",
            "service": "bastion",
            "port": 22,
            "cidr": "203.0.113.9/32",
        },
        {"at": "22m", "kind": "ssh_login", "from": "203.0.113.9", "to": "bastion-1", "stay": "10m"},
        {
            "at": "25m",
            "kind": "describe_burst",
            "role": "web-app",
            "instance": "web-2",
            "calls": 60,
            "over": "3m",
        },
        {
            "at": "30m",
            "kind": "bucket_public",
            "user": "erin",
            "from": "203.0.113.9",
            "bucket": "small-drop",
            "create": True,
            "objects": 3,
        },
        {"at": "40m", "kind": "guardduty_finding", "instance": "web-2"},
        {
            "at": "41m",
            "kind": "flows",
            "from": "web-2",
            "to": "192.0.2.50",
            "port": 3333,
            "count": 5,
            "over": "10m",
        },
    ],
    "lookalikes": [
        {"at": "5m", "kind": "ssh_login", "from": "198.51.100.3", "to": "bastion-1", "user": "finn"},
        {
            "at": "12m",
            "kind": "api_calls",
            "user": "erin",
            "from": "10.9.4.4",
            "calls": ["DescribeInstances"],
        },
        {"at": "15m", "kind": "bucket_public", "user": "erin", "bucket": "small-site", "via": "policy"},
    ],
    "expect": [
        {"rule": "principal_multiple_ips", "principal": "erin", "address": "203.0.113.9"},
        {"rule": "ssh_from_outside", "address": ["203.0.113.9", "bastion-1"]},
        {"rule": "excessive_describe", "principal": "web-app", "instance": "web-2"},
        {"rule": "s3_bucket_public", "bucket": "small-drop", "principal": "erin"},
        {"rule": "guardduty_finding", "instance": "web-2"},
    ],
    "answers": "Erin's key ({key:erin}) from 203.0.113.9 at {time:20m}; the miner on {instance:web-2}.\n",
}


def scenario_file(folder: Path, data: dict, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def changed(base: dict, path: tuple, value: object) -> dict:
    """A deep copy of `base` with the value at `path` (keys and indexes) replaced, or deleted (`DELETE`)."""
    data = copy.deepcopy(base)
    place = data
    for key in path[:-1]:
        place = place[key]
    if value is DELETE:
        del place[path[-1]]
    else:
        place[path[-1]] = value
    return data


DELETE = object()
