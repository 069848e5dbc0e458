"""A play written as files, in the layouts AWS and a syslog collector leave them:

    AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 letters and digits>.json.gz
    AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/
        <account>_vpcflowlogs_<region>_<flow log id>_<YYYYMMDDTHHMMZ>_<8 hex>.log.gz
    syslog/secure                     sshd's lines of every host, as a central collector keeps them
    guardduty/findings.jsonl          one EventBridge "GuardDuty Finding" event a line

CloudTrail and flow logs are delivered every five minutes, each file holding that period's records (the
stamp is the delivery time). Everything is derived from the play: gzip headers carry no time and the
random parts of the names come from the seed, so the same play writes the same bytes. A hidden
`.reynard-simulate.json` says what was played (ingest skips hidden files).
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from reynard.events.timestamps import zulu
from reynard.simulate.context import Context
from reynard.simulate.formats import FLOW_HEADER
from reynard.simulate.player import FILLED_BY_SCENARIO, Play
from reynard.simulate.reading import ScenarioError

DELIVERY = timedelta(minutes=5)
MANIFEST = ".reynard-simulate.json"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _delivery(moment: datetime) -> datetime:
    """When the five-minute file holding `moment` is delivered."""
    floor = moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)
    return floor + DELIVERY


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def write_files(play: Play, out: Path) -> list[Path]:
    """Write `play` under `out` (which must be new or empty); the files written, in name order."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ScenarioError(
            "not an empty folder: a play is written to a new one, never mixed with other files",
            where=str(out),
        )
    ctx = Context(play.scenario.environment, play.estate, play.scenario.seed, play.start, play.end)
    account = play.estate.account
    trails: dict[tuple[str, datetime], list[dict]] = defaultdict(list)
    flows: dict[datetime, list[str]] = defaultdict(list)
    secure: list[str] = []
    findings: list[bytes] = []
    for played in play.events:
        if played.source == "cloudtrail":
            trails[(played.record["awsRegion"], _delivery(played.moment))].append(played.record)
        elif played.source == "vpcflow":
            flows[_delivery(played.moment)].append(played.record)
        elif played.source == "syslog":
            secure.append(played.record)
        else:
            findings.append(orjson.dumps(played.record))
    files: dict[str, bytes] = {}
    for (region, stamp), records in trails.items():
        unique = "".join(ctx.rng("cloudtrail", region, stamp).choices(_ALPHABET, k=16))
        name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{unique}.json.gz"
        files[f"AWSLogs/{account}/CloudTrail/{region}/{stamp:%Y/%m/%d}/{name}"] = _gzip(
            orjson.dumps({"Records": records})
        )
    flow_log = f"fl-{ctx.token('flow log', length=17, upper=False)}"
    region = play.estate.region
    for stamp, lines in flows.items():
        digest = ctx.token("flows", stamp, length=8, upper=False)
        name = f"{account}_vpcflowlogs_{region}_{flow_log}_{stamp:%Y%m%dT%H%MZ}_{digest}"
        body = "\n".join([FLOW_HEADER, *lines]) + "\n"
        files[f"AWSLogs/{account}/vpcflowlogs/{region}/{stamp:%Y/%m/%d}/{name}.log.gz"] = _gzip(body.encode())
    if secure:
        files["syslog/secure"] = ("\n".join(secure) + "\n").encode()
    if findings:
        files["guardduty/findings.jsonl"] = b"\n".join(findings) + b"\n"
    written = []
    for relative in sorted(files):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[relative])
        written.append(path)
    (out / MANIFEST).write_bytes(orjson.dumps(manifest(play, sorted(files)), option=orjson.OPT_INDENT_2))
    return written


def manifest(play: Play, files: list[str]) -> dict:
    """What a play holds: the scenario, its times, where the estate came from, the counts, the files."""
    return {
        "scenario": play.scenario.name,
        "title": play.scenario.title,
        "seed": play.scenario.seed,
        "start": zulu(play.start, "seconds"),
        "end": zulu(play.end, "seconds"),
        "estate": play.estate.source,
        "events": play.counts(),
        "filled_by_scenario": FILLED_BY_SCENARIO,
        "files": files,
    }


__all__ = ["MANIFEST", "manifest", "write_files"]
