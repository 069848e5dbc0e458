"""`reynard ingest` end to end: real logs, bad input, dead letters, replay, stdin, handing off to a server."""

import gzip
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from helpers import Server
from reynard.cli import main
from reynard.events.event import stable_id
from reynard.query import ast
from reynard.store.tantivy.store import TantivyEventStore


def ingest(data_dir: Path, *args: str, stdin: bytes | None = None):
    result = CliRunner().invoke(main, ["ingest", "--data-dir", str(data_dir), *args], input=stdin)
    return result


def summary_of(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def stored_events(data_dir: Path) -> list[dict]:
    return list(TantivyEventStore(data_dir / "events").stream(ast.Search(limit=None)))


def test_every_shared_log_parses_with_the_counts_of_the_raw_files(shared_data, tmp_path):
    result = ingest(
        tmp_path,
        "--json",
        str(shared_data / "cloudtrail"),
        str(shared_data / "guardduty"),
        str(shared_data / "sshd" / "loghub" / "OpenSSH_2k.log"),
        str(shared_data / "sshd" / "loghub" / "Linux_2k.log"),
    )
    # The LICENSE files in the data folders are not logs: each is rejected as a whole input.
    licenses = len(list((shared_data / "cloudtrail").rglob("LICENSE")))
    assert result.exit_code == 1
    assert summary_of(result)["stored"] == 2900 + 310 + 103 + 1 + 2000 + 2000
    assert summary_of(result)["rejected"] == licenses
    by_source: dict[str, int] = {}
    for event in stored_events(tmp_path):
        by_source[event["source"]] = by_source.get(event["source"], 0) + 1
    assert by_source == {"cloudtrail": 3313, "guardduty": 1, "syslog": 4000}


def test_cloudtrail_events_match_their_raw_records(shared_data, tmp_path):
    folder = shared_data / "cloudtrail" / "invictus" / "CloudTrail"
    assert ingest(tmp_path, str(folder)).exit_code == 0
    store = TantivyEventStore(tmp_path / "events")
    raw_records = [r for f in sorted(folder.glob("*.json")) for r in json.loads(f.read_text())["Records"]]
    assert store.count() == len(raw_records) == 2900
    for raw in raw_records[::97]:
        event = store.get(stable_id("cloudtrail", raw["eventID"]))
        details = event["details"]
        assert details["eventname"] == raw["eventName"]
        assert details["eventsource"] == raw["eventSource"]
        assert details["useridentity"]["arn"] == raw["userIdentity"].get("arn")
        assert event["utctimestamp"].startswith(raw["eventTime"].rstrip("Z"))
        assert (
            event["summary"]
            == f"{raw['sourceIPAddress']} performed {raw['eventName']} in {raw['eventSource']}"
        )
        assert raw["eventName"].startswith(details["eventverb"])
        assert event["category"] == raw["eventType"]
        assert event["plugins"][0] == "lower_keys" and "cloudtrail" in event["plugins"]


def test_sshd_failures_match_the_raw_lines(shared_data, tmp_path):
    path = shared_data / "sshd" / "loghub" / "OpenSSH_2k.log"
    assert ingest(tmp_path, "--reference-date", "2026-11-28", str(path)).exit_code == 0
    lines = path.read_text().splitlines()
    events = stored_events(tmp_path)
    failed = [e for e in events if e["details"].get("action") == "failed"]
    assert len(failed) == sum(" Failed " in line for line in lines)  # password, and 4 "Failed none"
    passwords = [e for e in failed if e["details"].get("authmethod") == "password"]
    assert len(passwords) == sum("Failed password" in line for line in lines)
    from_top = [e for e in failed if e["details"].get("sourceipaddress") == "183.62.140.253"]
    assert len(from_top) == sum("Failed password" in line and "183.62.140.253" in line for line in lines)
    assert all(
        e["utctimestamp"].startswith("2025-12-") for e in events
    )  # Dec 10: the year before the reference
    assert all("tz-assumed-utc" in e["tags"] for e in events)


def test_ingesting_twice_stores_once(shared_data, tmp_path):
    folder = str(shared_data / "cloudtrail" / "stratus")
    first = summary_of(ingest(tmp_path, "--json", folder))
    second_run = ingest(tmp_path, "--json", folder)
    second = summary_of(second_run)
    assert (first["stored"], first["duplicates"]) == (310, 0)
    assert (second["stored"], second["duplicates"], second_run.exit_code) == (0, 310, 0)
    assert len(stored_events(tmp_path)) == 310


@pytest.fixture
def bad_inputs(tmp_path) -> Path:
    """A folder of damaged and hostile inputs next to good records."""
    folder = tmp_path / "in"
    folder.mkdir()
    record = {
        "eventVersion": "1.08",
        "eventTime": "2026-11-20T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "sourceIPAddress": "203.0.113.5",
        "userIdentity": {"type": "IAMUser"},
    }
    good = gzip.compress(orjson.dumps({"Records": [dict(record, eventID=f"id-{i}") for i in range(500)]}))
    (folder / "truncated.json.gz").write_bytes(good[: len(good) // 2])
    lines = [orjson.dumps(dict(record, eventID=f"nd-{i}")) for i in range(20)]
    lines[5] = b'{"eventName": "Broken", '
    lines[9] = orjson.dumps(dict(record, eventID="old", eventTime="1970-01-01T00:00:00Z"))
    (folder / "trail.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    (folder / "garbage.bin").write_bytes(bytes(range(256)) * 64)
    (folder / "auth.log").write_bytes(
        b"Nov 20 10:00:01 host sshd[1]: Failed password for root from 203.0.113.9 port 4 ssh2\n"
        b"Nov 20 10:00:02 host sshd[1]: Failed password for \xff\xfe from 203.0.113.9 port 5 ssh2\n"
    )
    (folder / "huge.ndjson").write_bytes(b'{"summary": "' + b"x" * (50 * 1024 * 1024) + b'"}\n')
    (folder / "notevent.json").write_bytes(b'{"hello": "world"}\n{"count": 3}\n')
    (folder / "gone.log").symlink_to(folder / "does-not-exist")
    return folder


def test_bad_input_is_rejected_record_by_record_and_the_rest_is_stored(bad_inputs, tmp_path):
    data = tmp_path / "data"
    result = ingest(data, "--json", "--reference-date", "2026-11-28", str(bad_inputs))
    assert result.exit_code == 1
    summary = summary_of(result)
    stored = stored_events(data)
    # 18 good NDJSON CloudTrail records, the two syslog lines (the second flagged invalid-utf8), and the
    # records of the truncated gzip before the damage.
    truncated = [e for e in stored if e["details"].get("eventid", "").startswith("id-")]
    assert 0 < len(truncated) < 500
    assert len([e for e in stored if e["details"].get("eventid", "").startswith("nd-")]) == 18
    syslog = [e for e in stored if e["source"] == "syslog"]
    assert len(syslog) == 2 and ["invalid-utf8" in e["tags"] for e in syslog].count(True) == 1
    assert summary["stored"] == len(stored)
    assert summary["read"] == summary["stored"] + summary["rejected"]

    listed = CliRunner().invoke(main, ["ingest", "--data-dir", str(data), "--dead-letters", "--json"])
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(letters) == summary["rejected"]
    reasons = {(Path(d["origin"]).name, d["position"]): d["reason"] for d in letters}
    assert "truncated gzip" in reasons[next(k for k in reasons if k[0] == "truncated.json.gz")]
    assert "invalid JSON" in reasons[("trail.ndjson", 6)]
    assert "out of range" in reasons[("trail.ndjson", 10)]
    assert "cannot tell what kind of log" in reasons[("garbage.bin", 0)]
    assert "bytes" in reasons[("huge.ndjson", 1)]
    assert "no summary" in reasons[("notevent.json", 1)]
    assert "no summary" in reasons[("notevent.json", 2)]
    assert "cannot open" in reasons[("gone.log", 0)]
    huge = next(d for d in letters if d["origin"].endswith("huge.ndjson"))
    assert huge["bytes"] > 50 * 1024 * 1024  # kept whole


def test_replay_after_choosing_the_right_source(tmp_path):
    data = tmp_path / "data"
    log = tmp_path / "auth.log"
    log.write_text("Nov 20 10:00:01 host sshd[1]: Invalid user bob from 203.0.113.9 port 22\n" * 3)
    wrong = ingest(data, "--source", "vpcflow", str(log))
    assert wrong.exit_code == 1 and "read 3 stored 0 rejected 3" in wrong.stdout
    replayed = ingest(data, "--replay", "--source", "syslog", "--reference-date", "2026-11-28")
    assert replayed.exit_code == 0, replayed.output
    assert "stored 3" in replayed.stdout
    listed = CliRunner().invoke(main, ["ingest", "--data-dir", str(data), "--dead-letters"])
    assert "0 rejected records" in listed.stdout
    assert len(stored_events(data)) == 3


def test_replay_that_fails_again_keeps_the_record(tmp_path):
    data = tmp_path / "data"
    (tmp_path / "x.ndjson").write_bytes(b'{"summary": "old", "utctimestamp": "1980-01-01T00:00:00Z"}\n')
    assert ingest(data, str(tmp_path / "x.ndjson")).exit_code == 1
    again = ingest(data, "--replay")
    assert again.exit_code == 1 and "still rejected" in again.stderr
    listed = CliRunner().invoke(main, ["ingest", "--data-dir", str(data), "--dead-letters", "--json"])
    assert json.loads(listed.stdout)["attempts"] == 2


def test_stdin(tmp_path):
    lines = b"".join(
        orjson.dumps({"summary": f"hello {i}", "utctimestamp": "2026-11-20T10:00:00Z"}) + b"\n"
        for i in range(4)
    )
    result = ingest(tmp_path, "-", stdin=lines)
    assert result.exit_code == 0 and "read 4 stored 4 rejected 0" in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert ingest(tmp_path).exit_code == 2
    unknown = ingest(tmp_path, "--source", "netflow", str(tmp_path))
    assert unknown.exit_code == 2 and "unknown source 'netflow'" in unknown.stderr
    bad_date = ingest(tmp_path, "--reference-date", "soon", str(tmp_path))
    assert bad_date.exit_code == 2


def test_ingest_hands_events_to_a_running_server(shared_data, tmp_path):
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        result = ingest(data, "--json", str(shared_data / "cloudtrail" / "otrf"))
        assert summary_of(result)["stored"] == 103

        assert server.get(f"{server.url}/api/stats").json()["events"] == 103
    finally:
        server.stop()


def test_a_mozdef_export_keeps_its_receivedtimestamp_only_when_asked(tmp_path):
    hit = {
        "_index": "events-20190501",
        "_id": "abc",
        "_source": {
            "utctimestamp": "2019-05-01T10:00:00+00:00",
            "receivedtimestamp": "2019-05-01T10:00:02+00:00",
            "summary": "login from 203.0.113.9",
            "category": "authentication",
            "source": "auth0",
            "details": {"sourceipaddress": "203.0.113.9", "username": "alice"},
        },
    }
    export = tmp_path / "export.ndjson"
    export.write_bytes(orjson.dumps(hit) + b"\n")
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    assert ingest(kept, "--keep-received", str(export)).exit_code == 0
    assert ingest(fresh, str(export)).exit_code == 0
    [with_own] = stored_events(kept)
    [without] = stored_events(fresh)
    assert with_own["receivedtimestamp"] == "2019-05-01T10:00:02.000000+00:00"
    assert without["receivedtimestamp"] > "2026"
    assert with_own["source"] == "auth0" and with_own["details"]["username"] == "alice"
